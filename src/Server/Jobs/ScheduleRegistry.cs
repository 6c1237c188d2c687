using Distil.Pipeline;
using Distil.Server.Hosting;
using Distil.Server.Storage;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;

namespace Distil.Server.Jobs;

/// <summary>
/// Recurring runs. The definition is stored under the schedule id, and the recurring job carries only
/// that id, so whichever worker fires it can plan the run.
/// </summary>
internal sealed class ScheduleRegistry(IRunStore store, IRecurringJobManager recurring, JobStorage storage, StepRegistry registry, ServiceOptions options, ILogger<ScheduleRegistry> logger)
{
    public async Task<string> AddOrUpdateAsync(string definitionJson, string? definitionFile, string cron, string? id, int? shardSize, CancellationToken cancellationToken)
    {
        var definition = PipelineDefinition.Parse(definitionJson, definitionFile, registry);
        var scheduleId = string.IsNullOrWhiteSpace(id) ? definition.Name : id;
        Register(scheduleId, cron);
        await store.UpsertScheduleAsync(
            new ScheduleRecord(scheduleId, definition.Name, definition.File, definitionJson, cron, shardSize ?? options.ShardSize), cancellationToken);
        return scheduleId;
    }

    /// <summary>Registers every definition in <paramref name="folder"/> that carries <c>"schedule"</c>; a bad file is reported and skipped.</summary>
    public async Task RegisterFolderAsync(string folder, CancellationToken cancellationToken)
    {
        foreach (var file in Directory.EnumerateFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                var definition = PipelineDefinition.Load(file, registry);
                if (definition.Schedule is { } cron)
                {
                    var id = await AddOrUpdateAsync(definition.Json, definition.File, cron, definition.Name, null, cancellationToken);
                    logger.LogInformation("Scheduled {Pipeline} ({Cron}) from {File} as '{Id}'", definition.Name, cron, file, id);
                }
            }
            catch (Exception e) when (e is PipelineDefinitionException or ArgumentException)
            {
                logger.LogWarning("Not scheduling {File}: {Message}", file, e.Message);
            }
        }
    }

    /// <summary>Starts a run of the schedule now; false when no schedule has this id.</summary>
    public bool Trigger(string id)
    {
        if (!Exists(id))
        {
            return false;
        }

        recurring.Trigger(id);
        return true;
    }

    /// <summary>Removes the recurring job and its stored definition; false when no schedule has this id.</summary>
    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken)
    {
        var existed = Exists(id);
        recurring.RemoveIfExists(id);
        return await store.DeleteScheduleAsync(id, cancellationToken) || existed;
    }

    private bool Exists(string id)
    {
        using var connection = storage.GetConnection();
        return connection.GetRecurringJobs().Any(j => j.Id == id && !j.Removed);
    }

    private void Register(string id, string cron)
    {
        try
        {
            recurring.AddOrUpdate<RunJobs>(id, j => j.SubmitScheduledAsync(id, CancellationToken.None), cron, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
        }
        catch (ArgumentException e)
        {
            throw new ServiceConfigurationException($"schedule '{id}': '{cron}' is not a valid cron expression ({e.Message})");
        }
    }
}

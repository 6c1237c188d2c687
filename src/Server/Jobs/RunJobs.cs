using Distil.Pipeline;
using Distil.Server.Hosting;
using Distil.Server.Storage;
using Distil.Steps;
using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.Logging;

namespace Distil.Server.Jobs;

/// <summary>
/// The Hangfire jobs of a run: plan (count rows, cut shards), one job per shard, then the merge. Their
/// arguments are a run id and a shard index; everything else is read from the run store, so any worker
/// on any machine can take any of them, and a job taken twice does its work once.
/// </summary>
public sealed class RunJobs(
    IRunStore store,
    IBackgroundJobClient jobs,
    StepRegistry registry,
    ShardExecutor executor,
    DatasetMerger merger,
    RunSubmission submission,
    ServiceOptions options,
    ILogger<RunJobs> logger)
{
    public const string Queue = "default";

    /// <summary>Attempts of a shard before the run is marked failed (Hangfire retries with growing delays).</summary>
    public const int ShardAttempts = 4;

    [AutomaticRetry(Attempts = 3, DelaysInSeconds = [2, 5, 15])]
    public async Task PlanAsync(Guid runId, CancellationToken cancellationToken)
    {
        var definition = await LoadDefinitionAsync(runId, cancellationToken);
        if (definition is null)
        {
            return;
        }

        var run = await store.GetRunAsync(runId, cancellationToken);
        if (run is null || run.Run.State is not (RunState.Planning or RunState.Running))
        {
            return;
        }

        if (run.Run.State == RunState.Planning)
        {
            var rows = await ShardPlanner.CountRowsAsync(definition, cancellationToken);
            var shards = ShardPlanner.Plan(rows, run.Run.ShardSize);
            await store.PlanShardsAsync(runId, rows, shards, cancellationToken);
            logger.LogInformation("Run {Run} ({Pipeline}): {Rows} rows in {Shards} shards", runId, definition.Name, rows, shards.Count);
            run = await store.GetRunAsync(runId, cancellationToken);
        }

        // Also reached when a previous attempt planned but died before enqueueing: shard jobs are idempotent.
        foreach (var shard in run!.Shards.Where(s => s.State != ShardState.Succeeded))
        {
            var index = shard.Index;
            jobs.Enqueue<RunJobs>(Queue, j => j.RunShardAsync(runId, index, null, CancellationToken.None));
        }
    }

    [AutomaticRetry(Attempts = ShardAttempts - 1, DelaysInSeconds = [2, 10, 30])]
    public async Task RunShardAsync(Guid runId, int shard, PerformContext? context, CancellationToken cancellationToken)
    {
        var range = await store.StartShardAsync(runId, shard, options.WorkerName, cancellationToken);
        if (range is null)
        {
            // Done already (a retry of a completed shard), or the run is over: at most help the merge along.
            await EnqueueMergeIfDoneAsync(runId, cancellationToken);
            return;
        }

        var definition = await LoadDefinitionAsync(runId, cancellationToken);
        if (definition is null)
        {
            return;
        }

        try
        {
            var result = await executor.RunAsync(runId, range, definition, cancellationToken);
            var completion = await store.CompleteShardAsync(runId, shard, result.Files, result.Steps, cancellationToken);
            logger.LogInformation("Run {Run} shard {Shard} done on {Worker}{Again}", runId, shard, options.WorkerName, completion.Recorded ? "" : " (already recorded)");
            executor.Clean(runId, shard);
            if (completion.AllShardsDone)
            {
                jobs.Enqueue<RunJobs>(Queue, j => j.MergeAsync(runId, CancellationToken.None));
            }
        }
        catch (RunCancelledException)
        {
            await store.RecordShardErrorAsync(runId, shard, "stopped: the run was cancelled", CancellationToken.None);
            logger.LogInformation("Run {Run} shard {Shard} stopped: the run was cancelled", runId, shard);
        }
        catch (PipelineDefinitionException e)
        {
            // The user's input is wrong; retrying cannot help.
            await store.RecordShardErrorAsync(runId, shard, e.Message, CancellationToken.None);
            await store.FailRunAsync(runId, $"shard {shard}: {e.Message}", CancellationToken.None);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            await store.RecordShardErrorAsync(runId, shard, e.Message, CancellationToken.None);
            var retries = context?.GetJobParameter<int>("RetryCount") ?? 0;
            if (retries + 1 >= ShardAttempts)
            {
                await store.FailRunAsync(runId, $"shard {shard} failed {ShardAttempts} times: {e.Message}", CancellationToken.None);
                return;
            }

            throw;
        }
    }

    [AutomaticRetry(Attempts = 4, DelaysInSeconds = [2, 10, 30, 60])]
    public async Task MergeAsync(Guid runId, CancellationToken cancellationToken)
    {
        if (!await store.BeginMergeAsync(runId, cancellationToken))
        {
            return;
        }

        var run = (await store.GetRunAsync(runId, cancellationToken))!;
        try
        {
            var merged = await merger.MergeAsync(run.Run, cancellationToken);
            await RecountCardsAsync(run.Run, merged.Directory, cancellationToken);
            var summary = await DatasetSummary.ComputeAsync(merged.Files, cancellationToken);
            await store.FinishRunAsync(runId, merged.Directory, summary, cancellationToken);
            logger.LogInformation("Run {Run} merged into {Output}", runId, merged.Directory);
        }
        catch (DatasetMergeException e)
        {
            await store.FailRunAsync(runId, e.Message, CancellationToken.None);
        }
    }

    [AutomaticRetry(Attempts = 2, DelaysInSeconds = [5, 30])]
    public async Task SubmitScheduledAsync(string scheduleId, CancellationToken cancellationToken)
    {
        var schedule = await store.GetScheduleAsync(scheduleId, cancellationToken)
            ?? throw new InvalidOperationException($"schedule '{scheduleId}' is not in the run store");
        var runId = await submission.SubmitAsync(schedule.DefinitionJson, schedule.DefinitionFile, schedule.ShardSize, $"schedule:{scheduleId}", cancellationToken);
        logger.LogInformation("Schedule {Schedule} started run {Run}", scheduleId, runId);
    }

    /// <summary>
    /// The merge took each dataset card from shard 0, which counted only its own rows: rewrite every card from the
    /// merged dataset with the card step itself, so that it states what a single-process run of the same data would.
    /// </summary>
    private async Task RecountCardsAsync(RunRecord run, string output, CancellationToken cancellationToken)
    {
        var definition = await LoadDefinitionAsync(run.Id, cancellationToken);
        var steps = definition?.Steps.Select(s => s.Step).ToList() ?? [];
        var cards = steps.OfType<DatasetCardStep>().Concat(steps.OfType<IWholeRunSink>().Select(s => s.Card).OfType<DatasetCardStep>()).ToList();
        if (cards.Count == 0)
        {
            return;
        }

        var catalog = new ModelCatalog();
        var identities = new List<ModelIdentity>();
        foreach (var (name, parameters) in definition!.Models)
        {
            identities.Add(await catalog.IdentifyAsync(name, parameters, cancellationToken));
        }

        var elapsed = DateTimeOffset.UtcNow - (run.StartedAt ?? run.CreatedAt);
        foreach (var card in cards)
        {
            await card.RecountAsync(new SinkContext(output, output) { Models = identities }, elapsed, cancellationToken);
        }
    }

    private async Task EnqueueMergeIfDoneAsync(Guid runId, CancellationToken cancellationToken)
    {
        var run = await store.GetRunAsync(runId, cancellationToken);
        if (run?.Run.State is RunState.Running or RunState.Merging && run.Shards.Count > 0 && run.Shards.All(s => s.State == ShardState.Succeeded))
        {
            jobs.Enqueue<RunJobs>(Queue, j => j.MergeAsync(runId, CancellationToken.None));
        }
    }

    private async Task<PipelineDefinition?> LoadDefinitionAsync(Guid runId, CancellationToken cancellationToken)
    {
        var stored = await store.GetDefinitionAsync(runId, cancellationToken);
        if (stored is null)
        {
            logger.LogWarning("Run {Run} is not in the run store; skipping its job", runId);
            return null;
        }

        try
        {
            return PipelineDefinition.Parse(stored.Value.Json, stored.Value.File, registry);
        }
        catch (PipelineDefinitionException e)
        {
            await store.FailRunAsync(runId, e.Message, CancellationToken.None);
            return null;
        }
    }
}

using Distil.Pipeline;
using Distil.Server.Hosting;
using Distil.Server.Storage;
using Hangfire;

namespace Distil.Server.Jobs;

/// <summary>
/// Turns a definition into a run: validates it (errors go back to the submitter, located), records it
/// with its text, and enqueues the planning job. The job arguments are the run id only.
/// </summary>
internal sealed class RunSubmission(IRunStore store, IBackgroundJobClient jobs, StepRegistry registry, RunInputs inputs, ServiceOptions options)
{
    public async Task<Guid> SubmitAsync(string definitionJson, string? definitionFile, int? shardSize, string trigger, CancellationToken cancellationToken)
    {
        if (shardSize is < 1)
        {
            throw new ServiceConfigurationException("shard size must be at least 1 row");
        }

        var definition = PipelineDefinition.Parse(definitionJson, definitionFile, registry);
        RefuseWholeRunSinks(definition);
        var id = Guid.NewGuid();
        await store.CreateRunAsync(new NewRun(id, definition.Name, definition.File, definitionJson, shardSize ?? options.ShardSize, trigger), cancellationToken);
        try
        {
            await inputs.StoreAsync(id, definition, cancellationToken);
        }
        catch (Exception e)
        {
            await store.FailRunAsync(id, $"storing the input files: {e.Message}", CancellationToken.None);
            throw;
        }

        jobs.Enqueue<RunJobs>(RunJobs.Queue, j => j.PlanAsync(id, CancellationToken.None));
        return id;
    }

    /// <summary>A sink that needs every row at once (a split chosen from all prompts) would write each shard's own answer.</summary>
    private static void RefuseWholeRunSinks(PipelineDefinition definition)
    {
        foreach (var step in definition.Steps)
        {
            if (step.Step is Distil.Steps.IWholeRunSink { NeedsWholeRun: { } need })
            {
                throw step.Parameters.Error(
                    need.Parameter,
                    $"step '{step.Name}' cannot run in a sharded service run as configured: {need.Reason}; run the pipeline with 'distil run'");
            }
        }
    }
}

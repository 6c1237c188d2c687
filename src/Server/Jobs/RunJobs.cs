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
internal sealed class RunJobs(
    IRunStore store,
    IBackgroundJobClient jobs,
    StepRegistry registry,
    ShardExecutor executor,
    DatasetMerger merger,
    RunSubmission submission,
    RunInputs inputs,
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

    [AutomaticRetry(Attempts = ShardAttempts - 1, DelaysInSeconds = [2, 10, 30], ExceptOn = [typeof(ShardFailedException)])]
    public async Task RunShardAsync(Guid runId, int shard, PerformContext? context, CancellationToken cancellationToken)
    {
        var range = await store.StartShardAsync(runId, shard, options.WorkerName, cancellationToken);
        if (range is null)
        {
            if (await store.GetRunStateAsync(runId, cancellationToken) is RunState.Failed or RunState.Cancelled)
            {
                // The run ended before this shard ran: the job did no work, and Hangfire should not list it as done.
                DeleteJob(context);
                return;
            }

            // Done already (a retry of a completed shard): at most help the merge along.
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
        catch (RunStoppedException e)
        {
            await store.RecordShardErrorAsync(runId, shard, $"stopped: {e.Message}", CancellationToken.None);
            logger.LogInformation("Run {Run} shard {Shard} stopped: {Reason}", runId, shard, e.Message);
            executor.Clean(runId, shard);
            DeleteJob(context);
        }
        catch (PipelineDefinitionException e)
        {
            // The user's input is wrong; retrying cannot help.
            await store.RecordShardErrorAsync(runId, shard, e.Message, CancellationToken.None);
            var message = $"shard {shard}: {e.Message}";
            await store.FailRunAsync(runId, message, CancellationToken.None);
            throw new ShardFailedException(message, e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            await store.RecordShardErrorAsync(runId, shard, e.Message, CancellationToken.None);
            var retries = context?.GetJobParameter<int>("RetryCount") ?? 0;
            if (retries + 1 >= ShardAttempts)
            {
                var message = $"shard {shard} failed {ShardAttempts} times: {e.Message}";
                await store.FailRunAsync(runId, message, CancellationToken.None);
                throw new ShardFailedException(message, e);
            }

            throw;
        }
    }

    /// <summary>Moves the running job to Hangfire's Deleted state, so its dashboard does not count a stopped shard as
    /// succeeded (the worker's own Succeeded transition then finds the job no longer Processing and is dropped).</summary>
    private void DeleteJob(PerformContext? context)
    {
        if (context?.BackgroundJob.Id is { } id)
        {
            jobs.Delete(id);
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
            var loaded = await LoadDefinitionAsync(runId, cancellationToken);
            var parquetSinks = loaded?.Steps.Select(s => s.Step).OfType<IParquetFileSink>().ToList() ?? [];
            var merged = await merger.MergeAsync(run.Run, name => parquetSinks.FirstOrDefault(s => s.Writes(name))?.RowGroupSize, cancellationToken);
            if (loaded is { } definition)
            {
                var sink = await MergedSinkAsync(definition, merged.Directory, run.Steps, cancellationToken);
                var elapsed = DateTimeOffset.UtcNow - (run.Run.StartedAt ?? run.Run.CreatedAt);
                await RecountCardsAsync(definition, sink, elapsed, cancellationToken);
                await PublishAsync(run.Run, definition, sink, elapsed, await store.GetReviewsAsync(runId, cancellationToken), cancellationToken);
            }

            var summary = await DatasetSummary.ComputeAsync(merged.Files, cancellationToken);
            await store.FinishRunAsync(runId, merged.Directory, summary, cancellationToken);
            logger.LogInformation("Run {Run} merged into {Output}", runId, merged.Directory);
        }
        catch (DatasetMergeException e)
        {
            await store.FailRunAsync(runId, e.Message, CancellationToken.None);
        }
        catch (Exception e) when (e is Distil.Hub.HubPublishException or PipelineDefinitionException)
        {
            // The Hub client has retried what a retry can fix; a refused token or repository needs the user.
            await store.FailRunAsync(runId, $"publishing the merged dataset: {e.Message}", CancellationToken.None);
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
    /// The merged output folder as the card and publishing steps see it, with the definition's model identities and
    /// each step's figures summed over the shards, priced as a single process prices them (so the card's Cost section
    /// covers the whole run).
    /// </summary>
    private static async Task<SinkContext> MergedSinkAsync(PipelineDefinition definition, string output, IReadOnlyList<StepCounts> shardSteps, CancellationToken cancellationToken)
    {
        var catalog = new ModelCatalog();
        var identities = new List<ModelIdentity>();
        foreach (var (name, parameters) in definition.Models)
        {
            identities.Add(await catalog.IdentifyAsync(name, parameters, cancellationToken));
        }

        IReadOnlyList<StepMetrics> steps = [.. shardSteps.Select(s => MergedMetrics(definition, s))];
        return new SinkContext(output, output) { Models = identities, StepMetrics = () => steps };
    }

    private static StepMetrics MergedMetrics(PipelineDefinition definition, StepCounts counts)
    {
        var model = definition.Steps.FirstOrDefault(s => s.Name == counts.Step)?.Model;
        var price = model is not null && definition.Models.TryGetValue(model, out var entry) ? ModelPrice.Read(model, entry, new DefinitionProblems()) : null;
        return new StepMetrics
        {
            Name = counts.Step,
            RowsIn = counts.RowsIn,
            RowsOut = counts.RowsOut,
            Errors = counts.Errors,
            InputTokens = counts.InputTokens,
            OutputTokens = counts.OutputTokens,
            Model = model,
            CostUsd = price?.Cost(counts.InputTokens, counts.OutputTokens),
        };
    }

    /// <summary>
    /// The merge took each dataset card from shard 0, which counted only its own rows: rewrite every card from the
    /// merged dataset with the card step itself, so that it states what a single-process run of the same data would.
    /// </summary>
    private static async Task RecountCardsAsync(PipelineDefinition definition, SinkContext merged, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        var steps = definition.Steps.Select(s => s.Step).ToList();
        foreach (var card in steps.OfType<DatasetCardStep>().Concat(steps.OfType<IWholeRunSink>().Select(s => s.Card).OfType<DatasetCardStep>()))
        {
            await card.RecountAsync(merged, elapsed, cancellationToken);
        }
    }

    /// <summary>
    /// Publishes a finished run's merged output again with its review log applied (flipped pairs swapped, rejected ones
    /// left out): what a person's "publish" on the dashboard does. The commit marker carries a digest of the log's
    /// decisions, so publishing the same decisions again finds that commit instead of making another.
    /// </summary>
    /// <returns>What each push_to_hub step published; empty when the definition has none.</returns>
    public async Task<IReadOnlyList<Publication>> RepublishAsync(Guid runId, CancellationToken cancellationToken)
    {
        var run = await store.GetRunAsync(runId, cancellationToken);
        if (run?.Run is not { State: RunState.Succeeded, Output: { } output } record)
        {
            throw new InvalidOperationException($"run {runId} has not succeeded, so it has no merged dataset to publish");
        }

        var definition = await LoadDefinitionAsync(runId, cancellationToken)
            ?? throw new InvalidOperationException($"run {runId}: its definition no longer loads");
        var elapsed = (record.FinishedAt ?? DateTimeOffset.UtcNow) - (record.StartedAt ?? record.CreatedAt);
        return await PublishAsync(record, definition, await MergedSinkAsync(definition, output, run.Steps, cancellationToken), elapsed,
            await store.GetReviewsAsync(runId, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Publishes each push_to_hub step's merged files, once per run: the commit carries the run id and step name, so a
    /// merge retried after its commit went through (its worker died before recording it) finds that commit on the Hub
    /// and records it instead of committing again.
    /// </summary>
    private async Task<IReadOnlyList<Publication>> PublishAsync(RunRecord run, PipelineDefinition definition, SinkContext merged, TimeSpan elapsed, IReadOnlyList<Distil.Steps.ReviewEntry> review, CancellationToken cancellationToken)
    {
        var steps = definition.Steps.Where(s => s.Step is IHubPublishingStep).ToList();
        var publications = new List<Publication>();
        if (steps.Count == 0)
        {
            return publications;
        }

        // The definition goes up beside the data as the text that was submitted; the submitted file need not exist here.
        var copy = Path.GetFullPath(Path.Combine(options.WorkDirectory, "publish", run.Id.ToString("N"), "pipeline.json"));
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        await File.WriteAllTextAsync(copy, (await store.GetDefinitionAsync(run.Id, cancellationToken))!.Value.Json, cancellationToken);
        try
        {
            foreach (var step in steps)
            {
                var publishing = (IHubPublishingStep)step.Step;
                var marker = CommitMarker(run.Id, step.Name) + (review.Count == 0 ? "" : $" review: {Distil.Steps.ReviewLog.DecisionsDigest(review)}");
                var result = await publishing.PublishMergedAsync(merged, elapsed, copy, marker, logger, cancellationToken, review);
                var publication = new Publication(step.Name, result.RepoUrl ?? publishing.Target.ToDirectory, result.CommitUrl, DateTimeOffset.UtcNow);
                await store.RecordPublicationAsync(run.Id, publication, cancellationToken);
                publications.Add(publication);
                logger.LogInformation("Run {Run} step {Step} published{Again}: {Commit}", run.Id, step.Name, result.AlreadyPublished ? " (by an earlier attempt)" : "", result.CommitUrl ?? result.RepoUrl);
            }
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true);
        }

        return publications;
    }

    /// <summary>The line a run's commit carries in its description; what a retried merge looks for on the Hub.</summary>
    public static string CommitMarker(Guid runId, string step) => $"distil-run: {runId:N}/{step}";

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
            var copies = await inputs.LocalCopiesAsync(runId, cancellationToken);
            return PipelineDefinition.Parse(stored.Value.Json, stored.Value.File, registry, copies);
        }
        catch (PipelineDefinitionException e)
        {
            await store.FailRunAsync(runId, e.Message, CancellationToken.None);
            return null;
        }
    }
}

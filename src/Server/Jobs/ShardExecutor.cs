using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Server.Hosting;
using Distil.Server.Storage;
using Distil.Steps;
using Microsoft.Extensions.Logging;

namespace Distil.Server.Jobs;

/// <summary>
/// Runs the pipeline over one shard's rows on this machine. The shard's run folder is stable
/// (<c>work/shards/&lt;run&gt;/&lt;shard&gt;</c>), so a retry here resumes finished batches; its output
/// folder is fresh for each attempt, so a killed attempt leaves nothing that a later one could pick up.
/// </summary>
internal sealed class ShardExecutor(IRunStore store, ServiceOptions options, ILoggerFactory loggerFactory)
{
    private static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    public sealed record Result(IReadOnlyList<ShardFile> Files, IReadOnlyList<StepCounts> Steps);

    public async Task<Result> RunAsync(Guid runId, ShardRange range, PipelineDefinition definition, CancellationToken cancellationToken)
    {
        var folder = ShardFolder(runId, range.Index);
        var output = Path.Combine(folder, "out");
        if (Directory.Exists(output))
        {
            Directory.Delete(output, recursive: true);
        }

        Directory.CreateDirectory(output);

        // A shard holds a slice of the rows: push_to_hub steps write their files, and the merge publishes the whole.
        foreach (var publishing in definition.Steps.Select(s => s.Step).OfType<IHubPublishingStep>())
        {
            publishing.Deferred = true;
        }

        // budget_usd is the run's, not each shard's: the shard runs on what is left of it, and charges the run's spend row.
        var budget = RunBudget.Of(store, runId, definition);
        var left = budget is null ? (decimal?)null : await budget.LeftAsync(cancellationToken);
        if (budget is not null && left <= 0)
        {
            await budget.ChargeAsync(0, cancellationToken);
            throw new RunStoppedException(runId, RunState.Cancelled);
        }

        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var progress = new ShardProgress(definition.Steps.Select(s => s.Name).ToList(), ShardProgress.WorkStepsOf(definition));
        var models = new ObservedModels(new ModelCatalog());
        var watcher = WatchAsync(runId, range.Index, progress, models, budget, run, cancellationToken);
        RunManifest? manifest = null;
        Exception? stopped = null;
        try
        {
            manifest = await new PipelineRunner().RunAsync(definition, new RunOptions
            {
                Range = new SourceRange(range.Offset, range.Limit),
                RunsRoot = Path.Combine(folder, "runs"),
                OutputDirectory = output,
                Models = models,
                Progress = progress,
                LoggerFactory = loggerFactory,
                BudgetUsd = left,
            }, run.Token);
        }
        catch (Exception e) when (e is BudgetReachedException || (e is OperationCanceledException && run.IsCancellationRequested && !cancellationToken.IsCancellationRequested))
        {
            stopped = e;
        }
        finally
        {
            await run.CancelAsync();
            await watcher;
        }

        // The models' final figures (nothing in flight any more); live ones were best effort.
        try
        {
            await store.ReportShardModelsAsync(runId, range.Index, models.Now(range.Index), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            loggerFactory.CreateLogger<ShardExecutor>().LogDebug("Model figures of run {Run} shard {Shard} not recorded: {Message}", runId, range.Index, e.Message);
        }

        // Charged once the watcher is done: what the shard spent counts, up to a stop too; at the budget this cancels the run.
        if (budget is not null && !await budget.ChargeAsync(budget.CostOf(progress.Latest()), CancellationToken.None) && stopped is BudgetReachedException reached)
        {
            await store.StopAtBudgetAsync(runId, budget.BudgetUsd - left!.Value + reached.SpentUsd, budget.BudgetUsd, CancellationToken.None);
        }

        if (stopped is not null || manifest is null)
        {
            // The watcher stops the shard when the run ended elsewhere and says how; a budget stop cancels the run.
            throw new RunStoppedException(runId, await watcher ?? RunState.Cancelled);
        }

        var files = manifest.OutputFiles.Select(f => ToShardFile(output, f)).ToList();
        var steps = manifest.Steps.Select(s => new StepCounts(
            s.Name, s.RowsIn, s.RowsOut, s.Errors, s.Dropped.Values.Sum(), s.InputTokens, s.OutputTokens, s.Elapsed.TotalSeconds)).ToList();
        return new Result(files, steps);
    }

    /// <summary>Drops the shard's local folder once its result is stored.</summary>
    public void Clean(Guid runId, int shard)
    {
        var folder = ShardFolder(runId, shard);
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Flushes live counters (steps, served models) to the store until the shard ends, and stops the shard when its
    /// run is cancelled, has failed elsewhere or has spent its budget (returning the run's end state).</summary>
    private async Task<RunState?> WatchAsync(Guid runId, int shard, ShardProgress progress, ObservedModels models, RunBudget? budget, CancellationTokenSource run, CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger<ShardExecutor>();
        using var timer = new PeriodicTimer(FlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(run.Token))
            {
                try
                {
                    if (await store.GetRunStateAsync(runId, run.Token) is (RunState.Cancelled or RunState.Failed) and var ended)
                    {
                        await run.CancelAsync();
                        return ended;
                    }

                    if (progress.TakeSnapshotIfChanged() is { } snapshot)
                    {
                        await store.ReportShardProgressAsync(runId, shard, snapshot, progress.RowsDone, run.Token);
                        if (budget is not null && await budget.ChargeAsync(budget.CostOf(progress.Latest()), run.Token))
                        {
                            await run.CancelAsync();
                            return RunState.Cancelled;
                        }
                    }

                    await store.ReportShardModelsAsync(runId, shard, models.Now(shard), run.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Live counters are best effort; the final ones are written with the shard's result.
                    logger.LogDebug("Progress of run {Run} shard {Shard} not recorded: {Message}", runId, shard, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return null;
    }

    private string ShardFolder(Guid runId, int shard) =>
        Path.GetFullPath(Path.Combine(options.WorkDirectory, "shards", runId.ToString("N"), shard.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private static ShardFile ToShardFile(string outputFolder, string file)
    {
        var full = Path.GetFullPath(file, outputFolder);
        var relative = Path.GetRelativePath(outputFolder, full);
        if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            throw new PipelineDefinitionException(
                $"the sink wrote {full}, outside the run's output folder; under serve, sinks must write relative to the output folder so shards can be merged");
        }

        return new ShardFile(relative.Replace('\\', '/'), full);
    }
}

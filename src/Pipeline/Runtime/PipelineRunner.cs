using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// Runs a definition as a TPL Dataflow network: one node per step with bounded buffers (backpressure),
/// branches running concurrently, fan-ins joined by row id. The run directory
/// (<c>RunsRoot/&lt;pipeline&gt;/&lt;fingerprint&gt;</c>) holds manifest.json and each caching step's finished
/// batches, so running the same definition on the same data again resumes where it stopped.
/// </summary>
/// <remarks>
/// On success the manifest is returned. On failure or cancellation the manifest is still written (status
/// failed / cancelled, finished batches kept) and the exception is rethrown: the step's own exception on
/// failure, <see cref="OperationCanceledException"/> on cancellation, <see cref="BudgetReachedException"/> when the
/// money spent reached the budget (status cancelled, reason budget; a rerun with a higher budget resumes).
/// </remarks>
public sealed class PipelineRunner
{
    /// <summary>Name of the copy of the definition kept in each run folder.</summary>
    public const string DefinitionFileName = "pipeline.json";

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Callers hold a runner (new PipelineRunner().RunAsync); a static method would break every call site.")]
    public async Task<RunManifest> RunAsync(PipelineDefinition definition, RunOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Plan)
        {
            return await PlanAsync(definition, options, cancellationToken);
        }

        var started = DateTimeOffset.UtcNow;
        var (fingerprint, source) = await RunFingerprint.ComputeAsync(definition, options.Range, cancellationToken);
        var runDirectory = Path.GetFullPath(Path.Combine(options.RunsRoot, definition.Name, fingerprint));
        var outputDirectory = Path.GetFullPath(options.OutputDirectory ?? Path.Combine("outputs", definition.Name));
        Directory.CreateDirectory(runDirectory);
        Directory.CreateDirectory(outputDirectory);
        var manifest = new RunManifest
        {
            Pipeline = definition.Name,
            Fingerprint = fingerprint,
            Source = source,
            RunDirectory = runDirectory,
            Range = options.Range,
            StartedAt = started,
            BudgetUsd = options.BudgetUsd ?? definition.BudgetUsd,
        };
        manifest.Write(runDirectory);

        // The run folder is self-describing: publishing and audits read the exact definition that made it.
        AtomicFile.WriteAllText(Path.Combine(runDirectory, DefinitionFileName), definition.Json);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var models = new Dictionary<string, IChatClient>(StringComparer.Ordinal);
        List<StepNode> nodes = [];
        // Reached from a step's thread while it reports tokens: the cancellation callbacks must not run there.
        var spend = new RunSpend(manifest.BudgetUsd, () => _ = stop.CancelAsync());
        var publication = OutputPublication.Begin(outputDirectory, runDirectory);
        try
        {
            await OpenModelsAsync(definition, options, runDirectory, models, cancellationToken);
            var identities = await IdentifyModelsAsync(definition, options, cancellationToken);
            manifest = manifest with { Models = identities };
            var run = new RunContext(options, runDirectory, publication.StagingDirectory, models)
            {
                CancellationToken = stop.Token,
                Pipeline = definition.Name,
                StepKeys = KeysOf(definition, identities),
                ModelIdentities = identities,
                Prices = PricesOf(definition),
                Spend = spend,
            };
            run.RowsTotal = await CountRowsAsync(definition, options.Range, cancellationToken);
            nodes = BuildNetwork(definition, run, stop.Token);
            var built = nodes;
            run.StepMetrics = () => built.Select(n => n.Metrics()).ToList();
            foreach (var sink in nodes.OfType<SinkNode>())
            {
                await sink.OpenAsync(cancellationToken);
            }

            await RunLoopsAsync(
                nodes,
                stop,
                () => spend.BudgetReached && !cancellationToken.IsCancellationRequested ? new BudgetReachedException(manifest.BudgetUsd!.Value, spend.Total) : null,
                cancellationToken);

            var sinks = nodes.OfType<SinkNode>().ToList();
            publication.Publish(sinks.SelectMany(s => s.OwnedFiles.Prepend(Path.GetFileName(s.ErrorsPath))));
            var steps = nodes.Select(n => n.Metrics()).ToList();
            manifest = manifest with
            {
                Status = RunStatus.Succeeded,
                FinishedAt = DateTimeOffset.UtcNow,
                Steps = steps,
                CostUsd = CostOf(steps),
                OutputFiles = sinks.SelectMany(s => s.OutputFiles).Select(publication.FinalPathOf).ToList(),
            };
            manifest.Write(runDirectory);
            return manifest;
        }
        catch (Exception e)
        {
            publication.Abandon();
            var budget = e is BudgetReachedException;
            var cancelled = budget || (e is OperationCanceledException && cancellationToken.IsCancellationRequested);
            var steps = nodes.Select(n => n.Metrics()).ToList();
            manifest = manifest with
            {
                Status = cancelled ? RunStatus.Cancelled : RunStatus.Failed,
                Reason = budget ? RunStatus.BudgetReason : null,
                Error = cancelled ? null : e.Message,
                FinishedAt = DateTimeOffset.UtcNow,
                Steps = steps,
                CostUsd = CostOf(steps),
            };
            manifest.Write(runDirectory);
            throw;
        }
        finally
        {
            foreach (var client in models.Values)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// What a run would do, per step: batches it would reuse from the cache and batches it would compute.
    /// Reads the source and the cache and runs cheap transforms; opens no model, writes nothing.
    /// </summary>
    private static async Task<RunManifest> PlanAsync(PipelineDefinition definition, RunOptions options, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var (fingerprint, source) = await RunFingerprint.ComputeAsync(definition, options.Range, cancellationToken);
        var runDirectory = Path.GetFullPath(Path.Combine(options.RunsRoot, definition.Name, fingerprint));
        var identities = await IdentifyModelsAsync(definition, options, cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = new RunContext(options, runDirectory, Path.GetFullPath(options.OutputDirectory ?? Path.Combine("outputs", definition.Name)), new Dictionary<string, IChatClient>())
        {
            CancellationToken = stop.Token,
            Pipeline = definition.Name,
            StepKeys = KeysOf(definition, identities),
            ModelIdentities = identities,
        };
        run.RowsTotal = await CountRowsAsync(definition, options.Range, cancellationToken);
        var nodes = BuildNetwork(definition, run, stop.Token);
        await RunLoopsAsync(nodes, stop, () => null, cancellationToken);

        return new RunManifest
        {
            Pipeline = definition.Name,
            Fingerprint = fingerprint,
            RunDirectory = runDirectory,
            Range = options.Range,
            StartedAt = started,
            FinishedAt = DateTimeOffset.UtcNow,
            Status = RunStatus.Planned,
            Steps = nodes.Select(n => n.Metrics()).ToList(),
            Models = identities,
            Source = source,
        };
    }

    /// <summary>The <c>price</c> of every model that has one.</summary>
    private static Dictionary<string, ModelPrice> PricesOf(PipelineDefinition definition)
    {
        var problems = new DefinitionProblems();
        var prices = new Dictionary<string, ModelPrice>(StringComparer.Ordinal);
        foreach (var (name, parameters) in definition.Models)
        {
            if (ModelPrice.Read(name, parameters, problems) is { } price)
            {
                prices[name] = price;
            }
        }

        problems.ThrowIfAny();
        return prices;
    }

    private static decimal? CostOf(IReadOnlyList<StepMetrics> steps) =>
        steps.Any(s => s.CostUsd is not null) ? steps.Sum(s => s.CostUsd ?? 0) : null;

    private static async Task<IReadOnlyList<ModelIdentity>> IdentifyModelsAsync(PipelineDefinition definition, RunOptions options, CancellationToken cancellationToken)
    {
        var identities = new List<ModelIdentity>();
        foreach (var (name, parameters) in definition.Models)
        {
            if (options.Models is null)
            {
                throw parameters.Error(null, $"model '{name}' cannot be identified: the run has no model provider");
            }

            identities.Add(await options.Models.IdentifyAsync(name, parameters, cancellationToken));
        }

        return identities;
    }

    private static Dictionary<string, string> KeysOf(PipelineDefinition definition, IReadOnlyList<ModelIdentity> identities)
    {
        var models = identities.ToDictionary(m => m.Name, StringComparer.Ordinal);
        return definition.Steps.Where(s => s.Step is IBatchStep { CachesBatches: true } or IGeneratingSource)
            .ToDictionary(s => s.Name, s => StepCacheKey.Compute(s, models), StringComparer.Ordinal);
    }

    /// <summary>Runs every node that has a loop (fused steps run on their predecessors') until all finish. When one
    /// fails, the run fails with <paramref name="stoppedBy"/>'s exception if it names why the run was stopped, else
    /// with the root cause among the loops.</summary>
    private static async Task RunLoopsAsync(List<StepNode> nodes, CancellationTokenSource stop, Func<Exception?> stoppedBy, CancellationToken cancellationToken)
    {
        var tasks = nodes.OfType<LoopNode>().Select(node => RunNodeAsync(node, stop)).ToList();
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (Exception) when (tasks.Any(t => t.IsFaulted || t.IsCanceled))
        {
            throw stoppedBy() ?? RootCause(tasks, cancellationToken);
        }
    }

    private static async Task RunNodeAsync(LoopNode node, CancellationTokenSource stop)
    {
        try
        {
            await node.RunAsync(stop.Token);
        }
        catch
        {
            // One failed step stops the whole network; the others unwind with cancellation.
            await stop.CancelAsync();
            throw;
        }
    }

    private static Exception RootCause(List<Task> tasks, CancellationToken userToken)
    {
        var failures = tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions)
            .Where(e => e is not OperationCanceledException).ToList();
        if (failures.Count > 0 && !userToken.IsCancellationRequested)
        {
            return failures.FirstOrDefault(e => e is PipelineDefinitionException) ?? failures[0];
        }

        return new OperationCanceledException("the run was cancelled", userToken);
    }

    private static async Task OpenModelsAsync(PipelineDefinition definition, RunOptions options, string runDirectory, Dictionary<string, IChatClient> models, CancellationToken cancellationToken)
    {
        options.Models?.CheckBeforeOpening(definition);
        foreach (var (name, parameters) in definition.Models)
        {
            if (options.Models is null)
            {
                throw parameters.Error(null, $"model '{name}' cannot be opened: the run has no model provider");
            }

            models[name] = await options.Models.OpenAsync(name, parameters, runDirectory, cancellationToken);
        }
    }

    /// <summary>The rows a run over <paramref name="range"/> will read, when the source can count them cheaply (JSONL lines, Parquet metadata).</summary>
    public static async Task<long?> CountRowsAsync(PipelineDefinition definition, SourceRange range, CancellationToken cancellationToken)
    {
        if (definition.Steps.First(s => s.Step is ISourceStep).Step is not ICountableSource countable
            || await countable.CountAsync(cancellationToken) is not { } count)
        {
            return range.Limit;
        }

        var available = Math.Max(0, count - range.Offset);
        return range.Limit is { } limit ? Math.Min(limit, available) : available;
    }

    /// <summary>
    /// One node per step, wired along <c>after</c>. Fusing is decided here, once: a step that
    /// <see cref="FusedStep.Fits"/> becomes a <see cref="FusedStep"/> run on its predecessor's loop; every other
    /// step is a <see cref="LoopNode"/> with a loop of its own.
    /// </summary>
    private static List<StepNode> BuildNetwork(PipelineDefinition definition, RunContext run, CancellationToken cancellationToken)
    {
        var nodes = new Dictionary<string, StepNode>(StringComparer.Ordinal);
        foreach (var step in definition.Steps)
        {
            nodes[step.Name] = step.Step switch
            {
                ISourceStep => new SourceNode(step, run),
                IFanInStep => new FanInNode(step, run, cancellationToken),
                ISinkStep => new SinkNode(step, run, cancellationToken),
                IBatchStep when FusedStep.Fits(step, definition) => new FusedStep(step, run),
                IBatchStep => new BatchNode(step, run, cancellationToken),
                _ => throw new InvalidOperationException($"step '{step.Name}' ({step.Type.Name}) is none of source, batch, fan-in or sink"),
            };
        }

        foreach (var step in definition.Steps)
        {
            for (var branch = 0; branch < step.After.Count; branch++)
            {
                nodes[step.After[branch]].AddSuccessor(nodes[step.Name], branch);
            }
        }

        return definition.Steps.Select(s => nodes[s.Name]).ToList();
    }
}

using Microsoft.Extensions.Logging;

namespace Distil.Pipeline;

/// <summary>How one run is carried out.</summary>
public sealed record RunOptions
{
    /// <summary>The slice of the source to read (a shard, or the first N rows with --limit).</summary>
    public SourceRange Range { get; init; } = SourceRange.All;

    /// <summary>Run directories live in <c>RunsRoot/&lt;pipeline&gt;/&lt;fingerprint&gt;</c>.</summary>
    public string RunsRoot { get; init; } = "runs";

    /// <summary>Where sinks write; default <c>outputs/&lt;pipeline&gt;</c> under the current directory.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Compute every batch again instead of reading cached ones (the new results replace them in the cache).</summary>
    public bool Fresh { get; init; }

    /// <summary>
    /// Dry run for <c>distil run --plan</c>: read the source and the cache, run cheap transforms, but call no
    /// model and write nothing; each caching step counts the batches it would reuse and those it would compute.
    /// </summary>
    public bool Plan { get; init; }

    /// <summary>
    /// Write each finished batch of caching steps to the run directory (what makes resume possible).
    /// Off only to measure the engine itself.
    /// </summary>
    public bool CacheBatches { get; init; } = true;

    /// <summary>
    /// Stop the run (cleanly: finished batches kept, status cancelled, reason budget) once its models' tokens have
    /// cost this many US dollars, counting batches read back from the cache; overrides the definition's <c>budget_usd</c>.
    /// </summary>
    public decimal? BudgetUsd { get; init; }

    /// <summary>Opens the definition's models; required when it defines any.</summary>
    public IModelProvider? Models { get; init; }

    /// <summary>Receives per-step progress (throttled to a few reports a second per step).</summary>
    public IProgress<StepProgress>? Progress { get; init; }

    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Rows a step's input buffer holds before its predecessors wait (backpressure). Memory stays bounded by
    /// steps × this; larger buffers mean fewer thread hand-offs. A step always buffers at least two batches per unit of parallelism.
    /// </summary>
    public int BufferedRows { get; init; } = 4096;

    /// <summary>The input buffer of a step, in batches.</summary>
    internal int CapacityFor(StepDefinition step) =>
        Math.Max(2 * step.MaxParallelism, BufferedRows / step.InputBatchSize);
}

/// <summary>A step's progress so far.</summary>
/// <param name="RowsDone">Rows the step has taken in and finished.</param>
/// <param name="RowsTotal">Rows the source will produce, when known.</param>
public sealed record StepProgress(string Step, long RowsDone, long? RowsTotal, long InputTokens, long OutputTokens)
{
    /// <summary>Rows that carry a row-level error after this step.</summary>
    public long Errors { get; init; }

    /// <summary>True in the last report of the step.</summary>
    public bool Completed { get; init; }

    /// <summary>The model the step calls (null for steps that call none).</summary>
    public string? Model { get; init; }

    /// <summary>That model's live figures (served models; shared by every step that calls it).</summary>
    public ModelActivity? ModelActivity { get; init; }
}

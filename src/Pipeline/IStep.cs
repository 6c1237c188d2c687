namespace Distil.Pipeline;

/// <summary>What every step declares, so that a pipeline is checked before anything runs.</summary>
public interface IStep
{
    string Name { get; }

    /// <summary>Columns this step reads (after input_mappings are applied by the runtime).</summary>
    IReadOnlyList<string> InputColumns { get; }

    /// <summary>Columns this step adds (before output_mappings are applied by the runtime).</summary>
    IReadOnlyList<string> OutputColumns { get; }

    /// <summary>
    /// The columns present after this step, given those present before it. Steps that drop columns
    /// (keep_columns) override this; the default adds <see cref="OutputColumns"/>.
    /// </summary>
    IReadOnlyList<string> ColumnsAfter(IReadOnlyList<string> available) =>
        available.Concat(OutputColumns).Distinct(StringComparer.Ordinal).ToList();
}

/// <summary>Produces the rows of a run. Row ids are positions in the source (0-based).</summary>
public interface ISourceStep : IStep
{
    /// <summary>A digest of the input data, so that the run fingerprint changes when the data does.</summary>
    ValueTask<string> FingerprintAsync(CancellationToken cancellationToken);

    /// <summary>Streams rows in source order, starting at <see cref="SourceRange.Offset"/>, at most <see cref="SourceRange.Limit"/> rows.</summary>
    IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, CancellationToken cancellationToken);
}

/// <summary>Rows in, rows out, a batch at a time: transforms and tasks (anything that calls a model).</summary>
public interface IBatchStep : IStep
{
    /// <summary>
    /// Processes one batch. May return fewer rows (filter, dedup) but never rows with new ids.
    /// A failure of one row is recorded with <see cref="IStepContext.RecordRowError"/>; an exception fails the run.
    /// </summary>
    ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken);

    /// <summary>
    /// Whether the runtime writes this step's finished batches to the run directory and reads them back on
    /// resume instead of calling <see cref="ProcessAsync"/> again. True for tasks (model calls are expensive);
    /// cheap deterministic transforms return false, and stateful ones (dedup) must, so that their state is
    /// rebuilt by seeing every row again.
    /// </summary>
    bool CachesBatches => true;
}

/// <summary>Joins the rows of several branches that share an id into one row (combine_columns).</summary>
public interface IFanInStep : IStep
{
    /// <summary><paramref name="parts"/> holds the same row id from each predecessor, in the order of <c>after</c>.</summary>
    Row Combine(IReadOnlyList<Row> parts, IStepContext context);
}

/// <summary>Writes the rows that reach it. Output appears atomically when <see cref="CompleteAsync"/> finishes.</summary>
public interface ISinkStep : IStep
{
    ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken);

    ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken);

    /// <summary>Finalizes the output (temp file then rename); returns the files written.</summary>
    ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Files (relative to the output folder) this sink answers for even when a run does not write them, so that
    /// publishing removes a stale one left by an earlier run instead of carrying it over.
    /// </summary>
    IReadOnlyList<string> OwnedFiles => [];
}

/// <summary>The slice of a source that a run (or a shard of a run) reads.</summary>
public readonly record struct SourceRange(long Offset = 0, long? Limit = null)
{
    public static SourceRange All => new(0, null);
}

/// <summary>Where a sink writes: the run's output folder.</summary>
public sealed record SinkContext(string OutputDirectory, string RunDirectory)
{
    /// <summary>
    /// The columns the graph knows reach the sink, under the names the sink sees (input_mappings applied,
    /// without <see cref="Row.ErrorColumn"/>); null when a step before it cannot tell before reading.
    /// Lets a sink write a well-formed empty output when no row reaches it.
    /// </summary>
    public IReadOnlyList<string>? Columns { get; init; }

    /// <summary>The run's models and their identities (for the dataset card).</summary>
    public IReadOnlyList<ModelIdentity> Models { get; init; } = [];

    /// <summary>
    /// The counts of every step of the run so far (rows dropped by reason, tokens, cost).
    /// Read it when the sink completes, when the steps before it have finished, to report what never reached it.
    /// </summary>
    public Func<IReadOnlyList<StepMetrics>> StepMetrics { get; init; } = () => [];
}

namespace Distil.Pipeline.Runtime;

/// <summary>
/// What a whole run would take, projected from a run over its first rows (<c>distil estimate</c>): the sample runs
/// for real in a scratch folder (never the run folder, so nothing it computes is mistaken for the run's batches),
/// and its tokens, money and time are scaled by the input's row count over the rows the sample read.
/// </summary>
public sealed record RunEstimate
{
    /// <summary>Rows in the whole input (null when the source cannot count them without reading them).</summary>
    public long? InputRows { get; init; }

    /// <summary>Rows the sample read.</summary>
    public long SampleRows { get; init; }

    public TimeSpan SampleElapsed { get; init; }

    /// <summary>The sample's time scaled (null without a row count). Model loading is counted once per sample, so
    /// for small samples of local models this leans high.</summary>
    public TimeSpan? ProjectedElapsed { get; init; }

    public IReadOnlyList<StepEstimate> Steps { get; init; } = [];

    /// <summary>The sample's cost (null when no model has a price).</summary>
    public decimal? SampleCostUsd { get; init; }

    /// <summary>The whole run's projected cost (null without prices or a row count).</summary>
    public decimal? ProjectedCostUsd { get; init; }

    public long ProjectedInputTokens => Steps.Sum(s => s.ProjectedInputTokens ?? 0);

    public long ProjectedOutputTokens => Steps.Sum(s => s.ProjectedOutputTokens ?? 0);

    /// <summary>Runs the first <paramref name="sampleRows"/> rows of <paramref name="definition"/> under <paramref name="scratchDirectory"/> and projects the whole input.</summary>
    public static async Task<RunEstimate> MeasureAsync(PipelineDefinition definition, RunOptions options, long sampleRows, string scratchDirectory, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRows, 1);
        var inputRows = await PipelineRunner.CountRowsAsync(definition, SourceRange.All, cancellationToken).ConfigureAwait(false);
        var sample = await new PipelineRunner().RunAsync(
            definition,
            options with
            {
                Range = new SourceRange(0, sampleRows),
                RunsRoot = Path.Combine(scratchDirectory, "runs"),
                OutputDirectory = Path.Combine(scratchDirectory, "outputs"),
                Fresh = true,
                Plan = false,
                CacheBatches = true,
            },
            cancellationToken).ConfigureAwait(false);

        var read = sample.Steps.Count == 0 ? 0 : sample.Steps[0].RowsOut; // steps are in dependency order: the source first
        double? scale = inputRows is { } rows && read > 0 ? (double)rows / read : null;
        long? Scaled(long sampled) => scale is { } s ? (long)Math.Round(sampled * s) : null;
        var steps = sample.Steps.Where(s => s.InputTokens + s.OutputTokens > 0 || s.Model is not null).Select(s => new StepEstimate
        {
            Name = s.Name,
            Model = s.Model,
            SampleInputTokens = s.InputTokens,
            SampleOutputTokens = s.OutputTokens,
            ProjectedInputTokens = Scaled(s.InputTokens),
            ProjectedOutputTokens = Scaled(s.OutputTokens),
            ProjectedCostUsd = s.CostUsd is { } cost && scale is { } f ? cost * (decimal)f : null,
        }).ToList();
        var elapsed = (sample.FinishedAt ?? sample.StartedAt) - sample.StartedAt;
        return new RunEstimate
        {
            InputRows = inputRows,
            SampleRows = read,
            SampleElapsed = elapsed,
            ProjectedElapsed = scale is { } t ? elapsed * t : null,
            Steps = steps,
            SampleCostUsd = sample.CostUsd,
            ProjectedCostUsd = sample.CostUsd is { } c && scale is { } k ? c * (decimal)k : null,
        };
    }
}

/// <summary>One model-calling step's tokens in the sample and projected for the whole input.</summary>
public sealed record StepEstimate
{
    public required string Name { get; init; }

    public string? Model { get; init; }

    public long SampleInputTokens { get; init; }

    public long SampleOutputTokens { get; init; }

    public long? ProjectedInputTokens { get; init; }

    public long? ProjectedOutputTokens { get; init; }

    public decimal? ProjectedCostUsd { get; init; }
}

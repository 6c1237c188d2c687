namespace Distil.Pipeline.Runtime;

/// <summary>
/// A cheap batch step fused, when the network is built, into its only predecessor: it has no inbox, loop or task of
/// its own. The predecessor's edge runs each batch through it as soon as the batch is cut, and the predecessor's
/// completion completes it. Its counts, progress, errors and batch boundaries stay its own, as if it ran alone.
/// </summary>
internal sealed class FusedStep(StepDefinition definition, RunContext run) : StepNode(definition, run)
{
    private readonly IBatchStep _step = (IBatchStep)definition.Step;
    private long _activeBatches;

    public override long ActiveBatches => Interlocked.Read(ref _activeBatches);

    /// <summary>
    /// A step that does not cache its batches (a transform), runs one batch at a time and is the only successor of
    /// its only predecessor: a hand-off between threads would cost more than its work. Steps that call models
    /// keep their own loop so that, for example, generation and judging overlap.
    /// </summary>
    public static bool Fits(StepDefinition step, PipelineDefinition pipeline) =>
        step.Step is IBatchStep { CachesBatches: false } && step.MaxParallelism == 1 && step.After.Count == 1
        && pipeline.Steps.Count(s => s.After.Contains(step.After[0])) == 1;

    private protected override async Task AcceptAsync(Inbound batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _activeBatches);
        Row[] output;
        try
        {
            output = await ProcessBatchAsync(_step, cache: null, batch.Rows);
        }
        finally
        {
            Interlocked.Decrement(ref _activeBatches);
        }

        await EmitAsync(output, cancellationToken);
    }

    private protected override Task PredecessorFinishedAsync(CancellationToken cancellationToken) => FinishAsync(cancellationToken);
}

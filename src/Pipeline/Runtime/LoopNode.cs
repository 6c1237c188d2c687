using System.Threading.Tasks.Dataflow;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// A step with a loop of its own: predecessors post batches to its <see cref="Input"/> (a bounded Dataflow block,
/// so a full one makes them wait) and it completes once every predecessor has finished.
/// </summary>
internal abstract class LoopNode(StepDefinition definition, RunContext run) : StepNode(definition, run)
{
    private int _finishedPredecessors;

    /// <summary>Where predecessors send batches (null for the source).</summary>
    public abstract ITargetBlock<Inbound>? Input { get; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var running = Start();
        await ExecuteAsync(cancellationToken);
        await FinishAsync(cancellationToken);
    }

    /// <summary>Runs the step until its input is exhausted, calling <see cref="StepNode.EmitAsync"/> with its output in row order.</summary>
    protected abstract Task ExecuteAsync(CancellationToken cancellationToken);

    private protected override async Task AcceptAsync(Inbound batch, CancellationToken cancellationToken)
    {
        if (!await Input!.SendAsync(batch, cancellationToken))
        {
            // The receiver stopped (it failed or the run is cancelled); its own error is what gets reported.
            cancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException($"step '{Definition.Name}' stopped taking input");
        }
    }

    private protected override Task PredecessorFinishedAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _finishedPredecessors) == Definition.After.Count)
        {
            Input?.Complete();
        }

        return Task.CompletedTask;
    }
}

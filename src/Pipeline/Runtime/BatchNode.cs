using System.Threading.Tasks.Dataflow;
using Distil.Pipeline.Telemetry;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// Runs an <see cref="IBatchStep"/> behind a bounded inbox (backpressure); with <c>max_parallelism</c> above 1,
/// on an ordered TransformBlock (several batches at once, output in input order). Rows that already carry an error go around the step untouched, and
/// finished batches of caching steps are written to / read back from the run directory.
/// </summary>
internal sealed class BatchNode : LoopNode
{
    private readonly IBatchStep _step;
    private readonly BatchCache? _cache;

    // One batch at a time: the node's own loop processes what its bounded inbox holds (one hand-off per batch).
    // Several at a time: an ordered TransformBlock runs them concurrently and keeps their output in input order.
    private readonly BufferBlock<Inbound>? _inbox;
    private readonly TransformBlock<Inbound, Row[]>? _parallel;

    public BatchNode(StepDefinition definition, RunContext run, CancellationToken cancellationToken)
        : base(definition, run)
    {
        _step = (IBatchStep)definition.Step;
        _cache = run.Options.CacheBatches && _step.CachesBatches ? new BatchCache(run.CacheDirectory(definition.Name), run.StepKeys[definition.Name]) : null;
        if (definition.MaxParallelism == 1)
        {
            _inbox = new BufferBlock<Inbound>(new DataflowBlockOptions
            {
                BoundedCapacity = run.Options.CapacityFor(definition),
                CancellationToken = cancellationToken,
            });
        }
        else
        {
            _parallel = new TransformBlock<Inbound, Row[]>(ProcessAsync, new ExecutionDataflowBlockOptions
            {
                MaxDegreeOfParallelism = definition.MaxParallelism,
                BoundedCapacity = run.Options.CapacityFor(definition),
                EnsureOrdered = true,
                SingleProducerConstrained = true,
                CancellationToken = cancellationToken,
            });
        }
    }

    private long _activeBatches;

    public override long QueuedBatches => _inbox?.Count ?? _parallel!.InputCount;

    public override long ActiveBatches => Interlocked.Read(ref _activeBatches);

    public override ITargetBlock<Inbound> Input => (ITargetBlock<Inbound>?)_inbox ?? _parallel!;

    protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (_inbox is not null)
        {
            while (await _inbox.OutputAvailableAsync(cancellationToken))
            {
                while (_inbox.TryReceive(out var batch))
                {
                    await EmitAsync(await ProcessAsync(batch), cancellationToken);
                }
            }

            await _inbox.Completion;
            return;
        }

        var parallel = _parallel!;
        while (await parallel.OutputAvailableAsync(cancellationToken))
        {
            while (parallel.TryReceive(out var rows))
            {
                await EmitAsync(rows, cancellationToken);
            }
        }

        await parallel.Completion;
    }

    private async Task<Row[]> ProcessAsync(Inbound batch)
    {
        Interlocked.Increment(ref _activeBatches);
        try
        {
            return await ProcessBatchAsync(_step, _cache, batch.Rows);
        }
        finally
        {
            Interlocked.Decrement(ref _activeBatches);
        }
    }
}

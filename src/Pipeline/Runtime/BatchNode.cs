using System.Threading.Tasks.Dataflow;
using Distil.Pipeline.Telemetry;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// Runs an <see cref="IBatchStep"/> behind a bounded inbox (backpressure); with <c>max_parallelism</c> above 1,
/// on an ordered TransformBlock (several batches at once, output in input order). Rows that already carry an error go around the step untouched, and
/// finished batches of caching steps are written to / read back from the run directory.
/// </summary>
internal sealed class BatchNode : StepNode
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

    /// <summary>
    /// A cheap step (one that does not cache its batches: a transform) with one predecessor, one batch at a time,
    /// runs on its predecessor's loop: a hand-off between threads costs more than such a step's work.
    /// Steps that call models keep their own loop so that, for example, generation and judging overlap.
    /// </summary>
    public static bool CanRunInline(StepDefinition step) =>
        step.Step is IBatchStep { CachesBatches: false } && step.MaxParallelism == 1 && step.After.Count == 1;

    protected override async Task ProcessInlineAsync(Inbound batch, CancellationToken cancellationToken) =>
        await EmitAsync(await ProcessAsync(batch), cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (RunsInline)
        {
            await PredecessorsDoneAsync(cancellationToken);
            return;
        }

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
            return await ProcessCountedAsync(batch);
        }
        finally
        {
            Interlocked.Decrement(ref _activeBatches);
        }
    }

    private async Task<Row[]> ProcessCountedAsync(Inbound batch)
    {
        var cancellationToken = Run.CancellationToken;
        if (_cache is null)
        {
            var plain = Run.CreateContext(Definition.Name, Run.PriceOf(Definition));
            var result = await ProcessFreshAsync(batch.Rows, plain, cancellationToken);
            AddCounts(plain.Counts());
            CountIn(batch.Rows.Length);
            return result;
        }

        if (Run.Options.Plan && batch.Rows.Any(PlanPending.Is))
        {
            // Its input is not computed yet, so neither can its key be: it is work to do.
            CountIn(batch.Rows.Length, computed: true);
            return batch.Rows;
        }

        var key = _cache.KeyOf(batch.Rows);
        if (!Run.Options.Fresh && await _cache.TryReadAsync(key, batch.Rows, cancellationToken) is { } cached)
        {
            AddCounts(cached.Counts);
            if (Run.PriceOf(Definition) is { } price)
            {
                Run.Spend.Add(price.Cost(cached.Counts.InputTokens, cached.Counts.OutputTokens)); // a resumed run's budget covers what its cache cost
            }

            CountIn(batch.Rows.Length, cached: true);
            return cached.Rows;
        }

        if (Run.Options.Plan)
        {
            CountIn(batch.Rows.Length, computed: true);
            return PlanPending.Mark(batch.Rows);
        }

        var context = Run.CreateContext(Definition.Name, Run.PriceOf(Definition));
        var output = await ProcessFreshAsync(batch.Rows, context, cancellationToken);
        var counts = context.Counts();
        await _cache.WriteAsync(key, batch.Rows, output, counts, cancellationToken);
        AddCounts(counts);
        CountIn(batch.Rows.Length, computed: true);
        return output;
    }

    private void AddCounts(BatchCounts counts)
    {
        Totals.Add(counts);
        if (counts.Errors > 0)
        {
            DistilMetrics.RowErrors.Add(counts.Errors, MetricTags);
        }
    }

    private async Task<Row[]> ProcessFreshAsync(Row[] rows, StepContext context, CancellationToken cancellationToken)
    {
        // Model calls made from here on are measured against this step.
        DistilMetrics.EnterStep(Definition.Name);

        // Rows failed earlier lack what the failing step should have added; the step never sees them.
        var healthy = new List<Row>(rows.Length);
        List<Row>? failed = null;
        foreach (var row in rows)
        {
            if (row.HasError)
            {
                (failed ??= []).Add(row);
            }
            else
            {
                ColumnMappings.ToStepView(Definition, row);
                healthy.Add(row);
            }
        }

        IReadOnlyList<Row> result = healthy.Count == 0 ? [] : await _step.ProcessAsync(healthy, context, cancellationToken);
        foreach (var row in result)
        {
            ColumnMappings.FromStepView(Definition, row);
        }

        // A row the step marked failed stays in the output even if the step left it out: errors are never silent.
        var kept = result.Count == healthy.Count ? null : result.ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var row in context.ErroredRows)
        {
            if (kept is not null && !kept.Contains(row))
            {
                ColumnMappings.FromStepView(Definition, row);
                (failed ??= []).Add(row);
            }
        }

        return RowOrder.Merge(result, failed, Definition.Name);
    }
}

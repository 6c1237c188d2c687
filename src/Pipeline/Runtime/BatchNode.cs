using System.Threading.Tasks.Dataflow;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// Runs an <see cref="IBatchStep"/> on a bounded, ordered TransformBlock (up to <c>max_parallelism</c> batches
/// at once, output in input order). Rows that already carry an error go around the step untouched, and
/// finished batches of caching steps are written to / read back from the run directory.
/// </summary>
internal sealed class BatchNode : StepNode
{
    private readonly TransformBlock<Inbound, Row[]> _block;
    private readonly IBatchStep _step;
    private readonly BatchCache? _cache;

    public BatchNode(StepDefinition definition, RunContext run, CancellationToken cancellationToken)
        : base(definition, run)
    {
        _step = (IBatchStep)definition.Step;
        _cache = run.Options.CacheBatches && _step.CachesBatches ? new BatchCache(BatchCache.DirectoryFor(run.RunDirectory, definition.Name)) : null;
        _block = new TransformBlock<Inbound, Row[]>(ProcessAsync, new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = definition.MaxParallelism,
            BoundedCapacity = run.Options.BoundedCapacity * definition.MaxParallelism,
            EnsureOrdered = true,
            SingleProducerConstrained = true,
            CancellationToken = cancellationToken,
        });
    }

    public override ITargetBlock<Inbound> Input => _block;

    protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        while (await _block.OutputAvailableAsync(cancellationToken))
        {
            while (_block.TryReceive(out var rows))
            {
                await EmitAsync(rows, cancellationToken);
            }
        }

        await _block.Completion;
    }

    private async Task<Row[]> ProcessAsync(Inbound batch)
    {
        var cancellationToken = Run.CancellationToken;
        if (_cache is not null && await _cache.TryReadAsync(batch.Seq, batch.Rows, cancellationToken) is { } cached)
        {
            Totals.Add(cached.Counts);
            CountIn(batch.Rows.Length, cached: true);
            return cached.Rows;
        }

        var context = Run.CreateContext(Definition.Name);
        var output = await ProcessFreshAsync(batch.Rows, context, cancellationToken);
        var counts = context.Counts();
        if (_cache is not null)
        {
            await _cache.WriteAsync(batch.Seq, batch.Rows, output, counts, cancellationToken);
        }

        Totals.Add(counts);
        CountIn(batch.Rows.Length);
        return output;
    }

    private async Task<Row[]> ProcessFreshAsync(Row[] rows, StepContext context, CancellationToken cancellationToken)
    {
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

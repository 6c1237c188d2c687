using System.Threading.Tasks.Dataflow;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// Reads the source and pushes its rows downstream; waits whenever the next step's buffer is full. A generating
/// source (<see cref="IGeneratingSource"/>) has its batches written by its model through the step batch cache.
/// </summary>
internal sealed class SourceNode(StepDefinition definition, RunContext run) : LoopNode(definition, run)
{
    private const int Chunk = 256;

    public override ITargetBlock<Inbound>? Input => null;

    protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (Definition.Step is IGeneratingSource generating)
        {
            await GenerateAsync(generating, cancellationToken);
            return;
        }

        var source = (ISourceStep)Definition.Step;
        var chunk = new List<Row>(Chunk);
        await foreach (var row in source.ReadAsync(Run.Options.Range, Totals, cancellationToken).WithCancellation(cancellationToken))
        {
            ColumnMappings.ToRowNames(Definition, row);
            chunk.Add(row);
            if (chunk.Count == Chunk)
            {
                CountIn(chunk.Count);
                await EmitAsync(chunk, cancellationToken);
                chunk = new List<Row>(Chunk);
            }
        }

        CountIn(chunk.Count);
        await EmitAsync(chunk, cancellationToken);
    }

    private async Task GenerateAsync(IGeneratingSource source, CancellationToken cancellationToken)
    {
        var cache = Run.Options.CacheBatches ? new BatchCache(Run.CacheDirectory(Definition.Name), Run.StepKeys[Definition.Name]) : null;
        var range = Run.Options.Range;
        var end = range.Limit is { } limit ? Math.Min(source.RowCount, range.Offset + limit) : source.RowCount;
        for (var start = range.Offset; start < end; start += source.BatchSize)
        {
            var empty = new Row[(int)Math.Min(source.BatchSize, end - start)];
            for (var i = 0; i < empty.Length; i++)
            {
                empty[i] = new Row(start + i);
            }

            await EmitAsync(await ProcessBatchAsync(source.Writer, cache, empty), cancellationToken);
        }
    }
}

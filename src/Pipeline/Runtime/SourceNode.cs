using System.Threading.Tasks.Dataflow;

namespace Distil.Pipeline.Runtime;

/// <summary>Reads the source and pushes its rows downstream; waits whenever the next step's buffer is full.</summary>
internal sealed class SourceNode(StepDefinition definition, RunContext run) : StepNode(definition, run)
{
    private const int Chunk = 256;

    public override ITargetBlock<Inbound>? Input => null;

    protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        var source = (ISourceStep)Definition.Step;
        var chunk = new List<Row>(Chunk);
        await foreach (var row in source.ReadAsync(Run.Options.Range, Totals, cancellationToken).WithCancellation(cancellationToken))
        {
            ColumnMappings.FromStepView(Definition, row);
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
}

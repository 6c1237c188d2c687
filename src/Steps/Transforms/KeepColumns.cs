using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>keep_columns: keeps only the listed columns, in that order.</summary>
internal sealed class KeepColumns(StepParameters parameters) : IBatchStep
{
    private readonly IReadOnlyList<string> _columns = parameters.GetStringList("columns") is { Count: > 0 } c ? c
        : throw parameters.Error("columns", $"step '{parameters.Name}' needs 'columns', the list of columns to keep");

    public string Name { get; } = parameters.Name;

    public IReadOnlyList<string> InputColumns => _columns;

    public IReadOnlyList<string> OutputColumns => [];

    public bool CachesBatches => false;

    public IReadOnlyList<string> ColumnsAfter(IReadOnlyList<string> available) => _columns;

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var kept = new Row[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var row = new Row(rows[i].Id);
            foreach (var column in _columns)
            {
                row[column] = rows[i][column];
            }

            kept[i] = row;
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(kept);
    }
}

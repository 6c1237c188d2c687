using System.Text.Json;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>rename_columns: <c>{"columns": {"old": "new", …}}</c>; other columns are untouched.</summary>
internal sealed class RenameColumns : IBatchStep
{
    private readonly IReadOnlyList<(string From, string To)> _renames;

    public RenameColumns(StepParameters parameters)
    {
        Name = parameters.Name;
        if (parameters.Get("columns") is not { ValueKind: JsonValueKind.Object } map || !map.EnumerateObject().Any()
            || map.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
        {
            throw parameters.Error("columns", $"step '{Name}' needs 'columns', an object of old → new names, e.g. {{\"prompt\": \"instruction\"}}");
        }

        _renames = map.EnumerateObject().Select(p => (p.Name, p.Value.GetString()!)).ToList();
        if (_renames.Select(r => r.To).Distinct(StringComparer.Ordinal).Count() != _renames.Count)
        {
            throw parameters.Error("columns", "two columns are renamed to the same name");
        }
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => _renames.Select(r => r.From).ToList();

    public IReadOnlyList<string> OutputColumns => _renames.Select(r => r.To).ToList();

    public bool CachesBatches => false;

    public IReadOnlyList<string> ColumnsAfter(IReadOnlyList<string> available) =>
        available.Select(c => _renames.FirstOrDefault(r => r.From == c) is { From: not null } r ? r.To : c)
            .Distinct(StringComparer.Ordinal).ToList();

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            var values = _renames.Select(r => row[r.From]).ToList();
            foreach (var (from, _) in _renames)
            {
                row.Remove(from);
            }

            for (var i = 0; i < _renames.Count; i++)
            {
                row[_renames[i].To] = values[i];
            }
        }

        return ValueTask.FromResult(rows);
    }
}

using System.Text;
using System.Text.Json;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// The text a near-duplicate or contamination step compares: one column (<c>column</c>) or several
/// (<c>columns</c>, joined by a newline). A null or missing value is empty text; a value that is not a string
/// (a list of messages, say) is compared as its JSON.
/// </summary>
internal sealed class TextColumns
{
    private readonly StringBuilder _joined = new();

    public TextColumns(StepParameters parameters)
    {
        var one = parameters.GetString("column");
        var several = parameters.GetStringList("columns");
        Names = (one, several) switch
        {
            (not null, not null) => throw parameters.Error("columns", "give either 'column' or 'columns', not both"),
            (not null, null) when one.Length > 0 => [one],
            (null, { Count: > 0 }) when several.All(c => c.Length > 0) => several,
            (null, null) => throw parameters.Error(null, $"step '{parameters.Name}' needs 'column' (or 'columns') naming the text to compare"),
            _ => throw parameters.Error(one is null ? "columns" : "column", "column names must not be empty"),
        };
    }

    public IReadOnlyList<string> Names { get; }

    public string Of(Row row)
    {
        if (Names.Count == 1)
        {
            return Text(row[Names[0]]);
        }

        _joined.Clear();
        foreach (var name in Names)
        {
            _joined.Append(Text(row[name])).Append('\n');
        }

        return _joined.ToString();
    }

    private static string Text(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        _ => JsonSerializer.Serialize(value),
    };
}

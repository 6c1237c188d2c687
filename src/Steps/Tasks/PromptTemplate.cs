using System.Globalization;
using System.Text.RegularExpressions;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// A user-message template with <c>{{column}}</c> placeholders, filled from a row's columns. The columns it
/// names are the step's input columns, so a template naming a column nobody produces is rejected before the run.
/// </summary>
public sealed partial class PromptTemplate
{
    private readonly string _text;

    private PromptTemplate(string text, IReadOnlyList<string> columns)
    {
        _text = text;
        Columns = columns;
    }

    public IReadOnlyList<string> Columns { get; }

    /// <summary>The default: the <paramref name="column"/> column as it is.</summary>
    public static PromptTemplate ForColumn(string column) => new("{{" + column + "}}", [column]);

    public static PromptTemplate Parse(string text) =>
        new(text, Placeholder().Matches(text).Select(m => m.Groups["column"].Value).Distinct(StringComparer.Ordinal).ToList());

    /// <summary>The filled template, or the error that makes the row unusable (a missing or empty column).</summary>
    public bool TryRender(Row row, out string text, out string? error)
    {
        error = null;
        var missing = Columns.FirstOrDefault(c => row[c] is null);
        if (missing is not null)
        {
            text = string.Empty;
            error = $"the column '{missing}' is missing or null";
            return false;
        }

        text = Placeholder().Replace(_text, m => Format(row[m.Groups["column"].Value]));
        return true;
    }

    /// <summary>Renders a column value as text: strings as they are, other values in a compact readable form.</summary>
    public static string Format(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        double d => d.ToString(CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IReadOnlyDictionary<string, object?> map => "{" + string.Join(", ", map.Select(p => $"{p.Key}: {Format(p.Value)}")) + "}",
        IReadOnlyList<object?> list => string.Join("\n", list.Select(Format)),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    [GeneratedRegex(@"\{\{\s*(?<column>[A-Za-z0-9_.\-]+)\s*\}\}")]
    private static partial Regex Placeholder();
}

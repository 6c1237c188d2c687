using System.Globalization;
using System.Text;

namespace Distil.Hub;

/// <summary>
/// The YAML that dataset cards use, read and written: block mappings and sequences, plain and quoted scalars and
/// flow lists of scalars. A value reads as a string, a list of values or a string-keyed map of values (null where
/// a key has none). Anchors, tags, block scalars (<c>|</c>, <c>&gt;</c>) and flow maps are refused with the line
/// that holds them, rather than misread.
/// </summary>
internal sealed class CardYaml
{
    private readonly List<(int Indent, string Text, int Line)> _lines;
    private int _next;

    private CardYaml(List<(int Indent, string Text, int Line)> lines) => _lines = lines;

    /// <summary>Reads <paramref name="yaml"/>, whose first line is line <paramref name="firstLine"/> of the card.</summary>
    public static object? Read(string yaml, int firstLine)
    {
        var lines = new List<(int Indent, string Text, int Line)>();
        var number = firstLine;
        foreach (var raw in yaml.Split('\n'))
        {
            var text = raw.TrimEnd();
            var content = text.TrimStart(' ');
            if (content.Length > 0 && content[0] != '#')
            {
                if (content[0] == '\t')
                {
                    throw Error(number, "a tab indents the line; YAML indents with spaces");
                }

                lines.Add((text.Length - content.Length, content, number));
            }

            number++;
        }

        if (lines.Count == 0)
        {
            return null;
        }

        var reader = new CardYaml(lines);
        var value = reader.Node(lines[0].Indent);
        if (reader._next < lines.Count)
        {
            throw Error(lines[reader._next].Line, "the line is indented less than the value it belongs to, or more than the line before");
        }

        return value;
    }

    /// <summary>A scalar in plain style where that reads back the same, double-quoted otherwise.</summary>
    public static string Scalar(string value)
    {
        var plain = value.Length > 0
            && value.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '*' or '<' or '>' or ' ')
            && !char.IsWhiteSpace(value[0]) && !char.IsWhiteSpace(value[^1])
            && value[0] is not ('*' or '-' or '<' or '>')
            && !value.Contains(": ", StringComparison.Ordinal);
        return plain ? value : "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    private object? Node(int indent) => IsItem(_lines[_next].Text) ? Sequence(indent) : Mapping(indent);

    private List<object?> Sequence(int indent)
    {
        var items = new List<object?>();
        while (_next < _lines.Count && _lines[_next].Indent == indent && IsItem(_lines[_next].Text))
        {
            var (_, text, line) = _lines[_next];
            var content = text[1..].TrimStart(' ');
            if (content.Length == 0)
            {
                _next++;
                items.Add(Nested(indent, sameColumnList: false));
            }
            else if (KeyEnd(content) >= 0)
            {
                // "- key: value" opens a mapping whose keys stand in the column of the first one.
                var column = indent + text.Length - content.Length;
                _lines[_next] = (column, content, line);
                items.Add(Mapping(column));
            }
            else
            {
                _next++;
                items.Add(Value(content, line));
            }
        }

        return items;
    }

    private Dictionary<string, object?> Mapping(int indent)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (_next < _lines.Count && _lines[_next].Indent == indent && !IsItem(_lines[_next].Text))
        {
            var (_, text, line) = _lines[_next];
            var colon = KeyEnd(text);
            if (colon < 0)
            {
                throw Error(line, "expected 'key: value'");
            }

            var key = Value(text[..colon].Trim(), line) as string ?? throw Error(line, "a key must be a string");
            var rest = text[(colon + 1)..].Trim();
            _next++;
            if (!map.TryAdd(key, rest.Length > 0 ? Value(rest, line) : Nested(indent, sameColumnList: true)))
            {
                throw Error(line, $"'{key}' is given twice");
            }
        }

        return map;
    }

    /// <summary>The block under a line that ends in a colon or dash: deeper lines, or a sequence at the same column (YAML lets a mapping's list start there).</summary>
    private object? Nested(int indent, bool sameColumnList)
    {
        if (_next >= _lines.Count)
        {
            return null;
        }

        var (nextIndent, text, _) = _lines[_next];
        if (nextIndent > indent || (sameColumnList && nextIndent == indent && IsItem(text)))
        {
            return Node(nextIndent);
        }

        return null;
    }

    private static object? Value(string text, int line)
    {
        switch (text[0])
        {
            case '"':
                return Quoted(text, line, '"');
            case '\'':
                return Quoted(text, line, '\'');
            case '[':
                return FlowList(text, line);
            case '{' or '&' or '*' or '!' or '|' or '>':
                throw Error(line, $"'{text[0]}' starts a YAML form a dataset card does not need (flow map, anchor, alias, tag or block scalar); write the value plainly");
            default:
                var comment = text.IndexOf(" #", StringComparison.Ordinal);
                var plain = (comment < 0 ? text : text[..comment]).Trim();
                return plain is "~" or "null" ? null : plain;
        }
    }

    private static string Quoted(string text, int line, char quote)
    {
        var value = new StringBuilder();
        for (var i = 1; i < text.Length; i++)
        {
            var c = text[i];
            if (c == quote)
            {
                if (quote == '\'' && i + 1 < text.Length && text[i + 1] == '\'')
                {
                    value.Append('\'');
                    i++;
                    continue;
                }

                var after = text[(i + 1)..].Trim();
                if (after.Length > 0 && after[0] != '#')
                {
                    throw Error(line, $"unexpected '{after}' after the quoted value");
                }

                return value.ToString();
            }

            if (c == '\\' && quote == '"' && i + 1 < text.Length)
            {
                i++;
                if (text[i] == 'u' && i + 4 < text.Length && int.TryParse(text.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
                {
                    value.Append((char)code);
                    i += 4;
                }
                else
                {
                    value.Append(text[i] switch { 'n' => '\n', 't' => '\t', var other => other });
                }

                continue;
            }

            value.Append(c);
        }

        throw Error(line, $"the quoted value has no closing {quote}");
    }

    private static List<object?> FlowList(string text, int line)
    {
        var close = text.LastIndexOf(']');
        if (close < 0)
        {
            throw Error(line, "the list has no closing ]");
        }

        var items = new List<object?>();
        var inner = text[1..close];
        var start = 0;
        char? quote = null;
        for (var i = 0; i <= inner.Length; i++)
        {
            if (i < inner.Length && quote is { } q)
            {
                quote = inner[i] == q ? null : quote;
            }
            else if (i < inner.Length && inner[i] is '"' or '\'')
            {
                quote = inner[i];
            }
            else if (i == inner.Length || inner[i] == ',')
            {
                var item = inner[start..i].Trim();
                if (item.Length > 0)
                {
                    items.Add(Value(item, line));
                }

                start = i + 1;
            }
        }

        return items;
    }

    private static bool IsItem(string text) => text[0] == '-' && (text.Length == 1 || text[1] == ' ');

    /// <summary>Where a mapping key ends: the first colon outside quotes that ends the line or is followed by a space.</summary>
    private static int KeyEnd(string text)
    {
        if (text[0] is '"' or '\'' or '[' or '{')
        {
            var close = text.IndexOf(text[0] switch { '[' => ']', '{' => '}', var q => q }, 1);
            return close > 0 && close + 1 < text.Length && text[close + 1] == ':' && (close + 2 == text.Length || text[close + 2] == ' ') ? close + 1 : -1;
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ':' && (i + 1 == text.Length || text[i + 1] == ' '))
            {
                return i;
            }

            if (text[i] == '#' && i > 0 && text[i - 1] == ' ')
            {
                return -1;
            }
        }

        return -1;
    }

    private static FormatException Error(int line, string message) => new($"front matter line {line}: {message}");
}

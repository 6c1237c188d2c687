using System.Globalization;
using System.Text;

namespace Distil.Engine.Text.Jinja;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it: Python's <c>json.dumps(value, ensure_ascii=False,
/// indent=…, separators=…, sort_keys=…)</c>. With an indent the item separator is <c>","</c> and empty containers
/// stay <c>[]</c>/<c>{}</c>; strings escape only quotes, backslashes and control characters.
/// </summary>
internal static class JinjaJson
{
    public static string Serialize(object? value, int? indent = null, bool sortKeys = false, (string Item, string Key)? separators = null, bool ensureAscii = false)
    {
        var (item, key) = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        var text = new StringBuilder();
        Write(text, value, indent, sortKeys, item, key, ensureAscii, depth: 0);
        return text.ToString();
    }

    private static void Write(StringBuilder text, object? value, int? indent, bool sortKeys, string item, string key, bool ascii, int depth)
    {
        switch (value)
        {
            case null or JinjaUndefined:
                text.Append("null");
                break;
            case bool b:
                text.Append(b ? "true" : "false");
                break;
            case long l:
                text.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                text.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : JinjaValue.FormatFloat(d));
                break;
            case string s:
                WriteString(text, s, ascii);
                break;
            case List<object?> list:
                WriteContainer(text, '[', ']', list.Count, indent, item, depth, i => Write(text, list[i], indent, sortKeys, item, key, ascii, depth + 1));
                break;
            case OrderedDictionary<string, object?> dict:
                WriteObject(text, dict, indent, sortKeys, item, key, ascii, depth);
                break;
            case JinjaNamespace ns:
                WriteObject(text, ns.Values, indent, sortKeys, item, key, ascii, depth);
                break;
            default:
                throw new JinjaRuntimeError($"Object of type {JinjaValue.TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteObject(StringBuilder text, OrderedDictionary<string, object?> dict, int? indent, bool sortKeys, string item, string key, bool ascii, int depth)
    {
        var entries = sortKeys ? dict.OrderBy(e => e.Key, StringComparer.Ordinal).ToList() : dict.ToList();
        WriteContainer(text, '{', '}', entries.Count, indent, item, depth, i =>
        {
            WriteString(text, entries[i].Key, ascii);
            text.Append(key);
            Write(text, entries[i].Value, indent, sortKeys, item, key, ascii, depth + 1);
        });
    }

    private static void WriteContainer(StringBuilder text, char open, char close, int count, int? indent, string item, int depth, Action<int> writeItem)
    {
        text.Append(open);
        if (count == 0)
        {
            text.Append(close);
            return;
        }
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                text.Append(item);
            }
            if (indent is { } width)
            {
                text.Append('\n').Append(' ', width * (depth + 1));
            }
            writeItem(i);
        }
        if (indent is { } w)
        {
            text.Append('\n').Append(' ', w * depth);
        }
        text.Append(close);
    }

    private static void WriteString(StringBuilder text, string s, bool ascii)
    {
        text.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ascii && c > 0x7f))
                    {
                        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }
                    break;
            }
        }
        text.Append('"');
    }
}

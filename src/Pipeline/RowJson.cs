using System.Globalization;
using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// Converts row values to and from JSON without losing their type: integers stay <see cref="long"/>,
/// floats stay <see cref="double"/> (written with a decimal point, so 1.0 does not come back as 1),
/// arrays become lists and objects become string-keyed dictionaries.
/// Used by the JSONL loader and writer and by the batch cache.
/// </summary>
public static class RowJson
{
    /// <summary>Reads the value at <paramref name="element"/> as a row value.</summary>
    public static object? ToValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => element.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => NumberOf(element),
        JsonValueKind.Array => element.EnumerateArray().Select(ToValue).ToList(),
        JsonValueKind.Object => ObjectOf(element),
        _ => throw new JsonException($"unsupported JSON value {element.ValueKind}"),
    };

    /// <summary>Reads a JSON object as a row with the given id.</summary>
    public static Row ToRow(long id, JsonElement obj)
    {
        var row = new Row(id);
        foreach (var property in obj.EnumerateObject())
        {
            row[property.Name] = ToValue(property.Value);
        }

        return row;
    }

    public static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case int i:
                writer.WriteNumberValue((long)i);
                break;
            case double d:
                WriteDouble(writer, d);
                break;
            case float f:
                WriteDouble(writer, f);
                break;
            case IReadOnlyDictionary<string, object?> dict:
                writer.WriteStartObject();
                foreach (var (key, item) in dict)
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, item);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable<object?> list:
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                throw new InvalidOperationException($"a row holds a value of type {value.GetType().Name}; only null, string, long, double, bool, lists and string-keyed dictionaries are allowed");
        }
    }

    /// <summary>A value as compact JSON text: equal text means equal values.</summary>
    public static string ToJson(object? value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteValue(writer, value);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes the row's columns as one JSON object (the id is not included).</summary>
    public static void WriteRow(Utf8JsonWriter writer, Row row)
    {
        writer.WriteStartObject();
        foreach (var (column, value) in row.Values)
        {
            writer.WritePropertyName(column);
            WriteValue(writer, value);
        }

        writer.WriteEndObject();
    }

    private static void WriteDouble(Utf8JsonWriter writer, double d)
    {
        if (!double.IsFinite(d))
        {
            // JSON has no NaN or infinity; a tagged object keeps the type and the value.
            writer.WriteStartObject();
            writer.WriteString("$double", d.ToString(CultureInfo.InvariantCulture));
            writer.WriteEndObject();
            return;
        }

        var text = d.ToString("R", CultureInfo.InvariantCulture);
        if (text.IndexOfAny(['.', 'E', 'e']) < 0)
        {
            text += ".0";
        }

        writer.WriteRawValue(text, skipInputValidation: true);
    }

    private static object NumberOf(JsonElement element)
    {
        var raw = element.GetRawText();
        if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && element.TryGetInt64(out var l))
        {
            return l;
        }

        return element.GetDouble();
    }

    private static object? ObjectOf(JsonElement element)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            dict[property.Name] = ToValue(property.Value);
        }

        if (dict.Count == 1 && dict.TryGetValue("$double", out var tagged) && tagged is string s)
        {
            return double.Parse(s, CultureInfo.InvariantCulture);
        }

        return dict;
    }
}

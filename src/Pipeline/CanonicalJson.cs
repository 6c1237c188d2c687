using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// One spelling for equal JSON values, so digests ignore what does not change meaning: comments, whitespace,
/// key order, and how a number is written (<c>0.70</c> and <c>0.7</c>, <c>1e1</c> and <c>10.0</c>).
/// </summary>
public static class CanonicalJson
{
    public static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.Number:
                WriteNumber(writer, element);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    /// <summary>SHA-256 (hex) of what <paramref name="write"/> writes.</summary>
    public static string Digest(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    private static void WriteNumber(Utf8JsonWriter writer, JsonElement element)
    {
        var raw = element.GetRawText();
        if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && element.TryGetInt64(out var integer))
        {
            writer.WriteNumberValue(integer);
            return;
        }

        var value = element.GetDouble();
        if (value == Math.Floor(value) && Math.Abs(value) < 1e15)
        {
            // 10.0 and 1e1 mean the same setting as 10.
            writer.WriteNumberValue((long)value);
            return;
        }

        writer.WriteRawValue(value.ToString("R", CultureInfo.InvariantCulture), skipInputValidation: true);
    }
}

using System.Text.Json;

namespace Distil.Engine.Text.Tokenizers;

/// <summary>
/// Reading one component of a tokenizer.json (a normalizer, a pre-tokenizer step, a decoder…) with its JSON path,
/// so that every complaint names the file and the exact component.
/// </summary>
internal readonly record struct JsonComponent(string File, string Path, JsonElement Element)
{
    public string Type => Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
        ? t.GetString()!
        : throw Fail("has no string \"type\"");

    public JsonComponent Child(string name) => new(File, $"{Path}.{name}", Element.TryGetProperty(name, out var e) ? e : default);

    public IEnumerable<JsonComponent> Items(string name)
    {
        var list = Child(name);
        if (list.Element.ValueKind != JsonValueKind.Array)
        {
            throw list.Fail("must be an array");
        }
        var index = 0;
        foreach (var item in list.Element.EnumerateArray())
        {
            yield return new JsonComponent(File, $"{list.Path}[{index++}]", item);
        }
    }

    public bool Has(string name) => Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(name, out var e) && e.ValueKind != JsonValueKind.Null;

    public string String(string name, string? fallback = null)
    {
        if (Has(name) && Element.GetProperty(name).ValueKind == JsonValueKind.String)
        {
            return Element.GetProperty(name).GetString()!;
        }
        return fallback ?? throw Child(name).Fail("must be a string");
    }

    public string? OptionalString(string name) => Has(name) ? String(name) : null;

    public bool Bool(string name, bool fallback)
    {
        if (!Has(name))
        {
            return fallback;
        }
        return Element.GetProperty(name).ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Child(name).Fail("must be true or false"),
        };
    }

    public int Int(string name, int fallback)
    {
        if (!Has(name))
        {
            return fallback;
        }
        return Element.GetProperty(name).TryGetInt32(out var value) && value >= 0 ? value : throw Child(name).Fail("must be a non-negative integer");
    }

    public TokenizerFormatException Fail(string reason) => new(File, $"{Path}: {reason}") { JsonPath = Path };

    public TokenizerFormatException Unsupported(string kind) =>
        new(File, $"{Path}: {kind} \"{Type}\" is not supported by Distil") { JsonPath = Path };
}

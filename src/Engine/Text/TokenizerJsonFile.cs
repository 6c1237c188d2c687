using System.Text.Json;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Text;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> with a BPE model: its normalizer, pre-tokenizer, model, added tokens,
/// post-processor and decoder. A component Distil does not implement is refused with its JSON path.
/// </summary>
internal sealed record TokenizerJsonFile(
    BpeModel Model,
    TextNormalizer? Normalizer,
    PreTokenizerStep? PreTokenizer,
    TokenDecoder? Decoder,
    IReadOnlyList<AddedToken> AddedTokens,
    IReadOnlyList<int> SpecialPrefix,
    IReadOnlyList<int> SpecialSuffix)
{
    public static TokenizerJsonFile Read(string file) => Parse(file, File.ReadAllBytes(file));

    /// <summary>Reads tokenizer.json content; <paramref name="file"/> names it in complaints.</summary>
    public static TokenizerJsonFile Parse(string file, byte[] json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = new JsonComponent(file, "$", document.RootElement);
            if (root.Element.ValueKind != JsonValueKind.Object || !root.Has("model") || root.Element.GetProperty("model").ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerFormatException(file, "no \"model\" object");
            }
            var model = Component(file, document.RootElement, "model");
            var type = model.Has("type") ? model.Type : "BPE";
            if (type != "BPE")
            {
                throw model.Fail($"model.type \"{type}\" is not supported by Distil (only BPE)");
            }
            var added = ReadAddedTokens(file, document.RootElement);
            var bpe = new BpeModel(model);
            var (prefix, suffix) = ReadPostProcessor(Component(file, document.RootElement, "post_processor"));
            return new TokenizerJsonFile(
                bpe,
                TextNormalizer.Parse(Component(file, document.RootElement, "normalizer")),
                PreTokenizerStep.Parse(Component(file, document.RootElement, "pre_tokenizer")),
                TokenDecoder.Parse(Component(file, document.RootElement, "decoder")),
                added, prefix, suffix);
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(file, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    private static JsonComponent Component(string file, JsonElement root, string name) =>
        new(file, name, root.TryGetProperty(name, out var element) ? element : default);

    private static List<AddedToken> ReadAddedTokens(string file, JsonElement root)
    {
        var added = new List<AddedToken>();
        var list = Component(file, root, "added_tokens");
        if (list.Element.ValueKind != JsonValueKind.Array)
        {
            return added;
        }
        var index = 0;
        foreach (var element in list.Element.EnumerateArray())
        {
            var token = new JsonComponent(file, $"added_tokens[{index++}]", element);
            if (element.ValueKind != JsonValueKind.Object
                || !element.TryGetProperty("id", out var id) || !id.TryGetInt32(out var value) || value < 0
                || !element.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw token.Fail("needs an integer \"id\" and a string \"content\"");
            }
            var special = token.Bool("special", false);
            added.Add(new AddedToken(value, content.GetString()!, special,
                Normalized: token.Bool("normalized", !special), LStrip: token.Bool("lstrip", false),
                RStrip: token.Bool("rstrip", false), SingleWord: token.Bool("single_word", false)));
        }
        return added;
    }

    // The special tokens the post-processor puts around a single sequence (TemplateProcessing's "single",
    // Bert/Roberta's cls … sep); ByteLevel processing only adjusts offsets, which Distil does not report.
    private static (List<int> Prefix, List<int> Suffix) ReadPostProcessor(JsonComponent component)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        if (component.Element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return (prefix, suffix);
        }
        switch (component.Type)
        {
            case "ByteLevel":
                break;
            case "Sequence":
                foreach (var step in component.Items("processors"))
                {
                    var (p, s) = ReadPostProcessor(step);
                    prefix.AddRange(p);
                    suffix.AddRange(s);
                }
                break;
            case "TemplateProcessing":
            {
                var specials = component.Child("special_tokens");
                var seenSequence = false;
                foreach (var item in component.Items("single"))
                {
                    if (item.Has("Sequence"))
                    {
                        seenSequence = true;
                        continue;
                    }
                    if (!item.Has("SpecialToken"))
                    {
                        throw item.Fail("must be {\"Sequence\": …} or {\"SpecialToken\": …}");
                    }
                    var name = item.Child("SpecialToken").String("id");
                    var entry = specials.Child(name);
                    if (entry.Element.ValueKind != JsonValueKind.Object || !entry.Has("ids"))
                    {
                        throw entry.Fail($"special token \"{name}\" used by the template has no \"ids\"");
                    }
                    var ids = entry.Element.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32());
                    (seenSequence ? suffix : prefix).AddRange(ids);
                }
                break;
            }
            case "BertProcessing" or "RobertaProcessing":
                prefix.Add(SpecialId(component.Child("cls")));
                suffix.Add(SpecialId(component.Child("sep")));
                break;
            default:
                throw component.Unsupported("post-processor");
        }
        return (prefix, suffix);

        // Bert/Roberta give [token, id] pairs.
        static int SpecialId(JsonComponent pair) =>
            pair.Element.ValueKind == JsonValueKind.Array && pair.Element.GetArrayLength() == 2 && pair.Element[1].TryGetInt32(out var id)
                ? id
                : throw pair.Fail("must be [token, id]");
    }
}

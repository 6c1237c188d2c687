using System.Text.Json;

namespace Distil.Engine.Text;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> holding a byte-level BPE model: vocabulary, merges, added tokens and the
/// split regex of its pre-tokenizer (the GPT-2 regex is used when it names none).
/// </summary>
internal sealed record TokenizerJsonFile(
    IReadOnlyList<KeyValuePair<string, int>> Vocabulary,
    IReadOnlyList<string> Merges,
    IReadOnlyList<ModelTokenizer.AddedToken> AddedTokens,
    string? PreTokenizerPattern)
{
    public static TokenizerJsonFile Read(string file)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(file));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerFormatException(file, "no \"model\" object");
            }
            var type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE";
            if (type != "BPE")
            {
                throw new TokenizerFormatException(file, $"model.type \"{type}\" is not supported (only byte-level BPE)");
            }
            if (!ContainsByteLevel(root, "pre_tokenizer") && !ContainsByteLevel(root, "decoder"))
            {
                throw new TokenizerFormatException(file, "only byte-level BPE is supported (no ByteLevel pre_tokenizer or decoder)");
            }
            if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerFormatException(file, "model.vocab must be an object of token → id");
            }
            var vocabulary = new List<KeyValuePair<string, int>>();
            foreach (var entry in vocab.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
                {
                    throw new TokenizerFormatException(file, $"model.vocab[\"{entry.Name}\"] is not a token id");
                }
                vocabulary.Add(new(entry.Name, id));
            }
            if (vocabulary.Count == 0)
            {
                throw new TokenizerFormatException(file, "model.vocab is empty");
            }
            return new TokenizerJsonFile(vocabulary, ReadMerges(file, model), ReadAddedTokens(file, root), FindSplitPattern(root.TryGetProperty("pre_tokenizer", out var p) ? p : default));
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(file, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    // Merges are "a b" strings in older files and ["a", "b"] pairs in newer ones.
    private static List<string> ReadMerges(string file, JsonElement model)
    {
        var merges = new List<string>();
        if (!model.TryGetProperty("merges", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return merges;
        }
        var index = 0;
        foreach (var merge in array.EnumerateArray())
        {
            merges.Add(merge.ValueKind switch
            {
                JsonValueKind.String => merge.GetString()!,
                JsonValueKind.Array when merge.GetArrayLength() == 2 => $"{merge[0].GetString()} {merge[1].GetString()}",
                _ => throw new TokenizerFormatException(file, $"model.merges[{index}] is neither \"a b\" nor [\"a\", \"b\"]"),
            });
            index++;
        }
        return merges;
    }

    private static List<ModelTokenizer.AddedToken> ReadAddedTokens(string file, JsonElement root)
    {
        var added = new List<ModelTokenizer.AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return added;
        }
        var index = 0;
        foreach (var token in array.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out var id) || !id.TryGetInt32(out var value)
                || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw new TokenizerFormatException(file, $"added_tokens[{index}] needs an integer \"id\" and a string \"content\"");
            }
            var special = token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
            added.Add(new ModelTokenizer.AddedToken(value, content.GetString()!, special));
            index++;
        }
        return added;
    }

    private static bool ContainsByteLevel(JsonElement root, string name) =>
        root.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.Object && element.GetRawText().Contains("\"ByteLevel\"", StringComparison.Ordinal);

    // The first Split step with a regex pattern, searched through Sequence pre-tokenizers.
    private static string? FindSplitPattern(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (element.TryGetProperty("type", out var type) && type.GetString() == "Split"
            && element.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.Object
            && pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
        {
            return regex.GetString();
        }
        if (element.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var inner in list.EnumerateArray())
            {
                if (FindSplitPattern(inner) is { } found)
                {
                    return found;
                }
            }
        }
        return null;
    }
}

using System.Text.Json;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Text;

/// <summary>The parts of a model folder's <c>tokenizer_config.json</c> the engine reads.</summary>
internal sealed record TokenizerConfig(
    string? File,
    IReadOnlyList<AddedToken> AddedTokens,
    string? BosToken,
    string? EosToken,
    IReadOnlyDictionary<string, string>? ChatTemplates,
    string? DistilChatTemplate,
    bool? AddBosToken = null,
    bool? AddEosToken = null)
{
    public const string FileName = "tokenizer_config.json";

    /// <summary>The config of <paramref name="modelDirectory"/>, or an empty one when the file is absent.</summary>
    public static TokenizerConfig Read(string modelDirectory)
    {
        var file = Path.Combine(modelDirectory, FileName);
        if (!System.IO.File.Exists(file))
        {
            return new TokenizerConfig(null, [], null, null, null, null);
        }
        try
        {
            using var document = JsonDocument.Parse(System.IO.File.ReadAllBytes(file), new JsonDocumentOptions { AllowTrailingCommas = true });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerFormatException(file, "the top level must be a JSON object");
            }
            var added = new List<AddedToken>();
            if (root.TryGetProperty("added_tokens_decoder", out var decoder))
            {
                if (decoder.ValueKind != JsonValueKind.Object)
                {
                    throw new TokenizerFormatException(file, "added_tokens_decoder must be an object of id → token");
                }
                foreach (var entry in decoder.EnumerateObject())
                {
                    if (!int.TryParse(entry.Name, out var id) || id < 0)
                    {
                        throw new TokenizerFormatException(file, $"added_tokens_decoder key \"{entry.Name}\" is not a token id");
                    }
                    var content = entry.Value.ValueKind == JsonValueKind.Object && entry.Value.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String
                        ? c.GetString()!
                        : throw new TokenizerFormatException(file, $"added_tokens_decoder.{entry.Name} has no string \"content\"");
                    var special = !entry.Value.TryGetProperty("special", out var s) || s.ValueKind != JsonValueKind.False;
                    added.Add(new AddedToken(id, content, special,
                        Normalized: Flag(entry.Value, "normalized") ?? !special, LStrip: Flag(entry.Value, "lstrip") ?? false,
                        RStrip: Flag(entry.Value, "rstrip") ?? false, SingleWord: Flag(entry.Value, "single_word") ?? false));
                }
            }
            return new TokenizerConfig(file, added, TokenText(root, "bos_token"), TokenText(root, "eos_token"),
                NamedChatTemplates(file, root), StringOrNull(root, "distil_chat_template"), Flag(root, "add_bos_token"), Flag(root, "add_eos_token"));
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(file, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    // bos/eos are either a plain string or an AddedToken object with "content".
    private static string? TokenText(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => null,
        } : null;

    // chat_template is a Jinja string (named "default" here), or a list of {name, template}: "default", "tool_use", ….
    private static Dictionary<string, string>? NamedChatTemplates(string file, JsonElement root)
    {
        if (!root.TryGetProperty("chat_template", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.String)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal) { ["default"] = value.GetString()! };
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException(file, "chat_template must be a string or a list of {\"name\", \"template\"}");
        }
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var entry in value.EnumerateArray())
        {
            named[StringOrNull(entry, "name") ?? throw new TokenizerFormatException(file, $"chat_template[{index}] has no string \"name\"")] =
                StringOrNull(entry, "template") ?? throw new TokenizerFormatException(file, $"chat_template[{index}] has no string \"template\"");
            index++;
        }
        return named;
    }

    private static bool? Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;

    private static string? StringOrNull(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

using Distil.Engine.Model;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distil.Engine.Reward;

/// <summary>
/// What a reward model folder says about itself before its graph is opened: that it is a sequence classifier with one
/// label (<c>architectures: ["…ForSequenceClassification"]</c>, <c>num_labels</c> or <c>id2label</c>), how to pad
/// (<c>pad_token_id</c> in config.json, else <c>pad_token</c> in tokenizer_config.json; <c>padding_side</c>) and how
/// many tokens it takes (<c>max_position_embeddings</c>, else the tokenizer's <c>model_max_length</c>).
/// </summary>
internal sealed record RewardModelFolder(string ConfigFile, string ModelFile, int? PadTokenId, string? PadToken, bool PadLeft, int? ContextLength)
{
    /// <summary>Whether <paramref name="folder"/>'s config.json names a sequence classifier (false when it is absent or unreadable).</summary>
    public static bool IsSequenceClassifier(string folder)
    {
        try
        {
            return ClassName(ReadObject(Path.Combine(folder, "config.json"))) is { } name && name.EndsWith(SequenceClassification, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is ModelFormatException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private const string SequenceClassification = "ForSequenceClassification";

    /// <exception cref="ModelFormatException">The folder is not a one-label sequence classifier, or a field is malformed.</exception>
    public static RewardModelFolder Read(string folder)
    {
        var configFile = Path.Combine(folder, "config.json");
        var config = ReadObject(configFile);
        var className = ClassName(config);
        if (className is null || !className.EndsWith(SequenceClassification, StringComparison.Ordinal))
        {
            throw new ModelFormatException(configFile, $"field 'architectures' is {config["architectures"]?.ToJsonString() ?? "missing"}; a reward model is a sequence classifier export (e.g. LlamaForSequenceClassification) with one score per sequence");
        }

        var labels = Integer(config, "num_labels", configFile) ?? (config["id2label"] as JsonObject)?.Count ?? 1;
        if (labels != 1)
        {
            throw new ModelFormatException(configFile, $"field 'num_labels' (or 'id2label') gives {labels} labels; a reward model has exactly one (its score)");
        }

        var modelFile = new[] { Path.Combine(folder, "onnx", "model.onnx"), Path.Combine(folder, "model.onnx") }.FirstOrDefault(File.Exists)
            ?? throw new ModelFormatException(folder, "no onnx/model.onnx (or model.onnx) in the reward model folder");
        var tokenizerFile = Path.Combine(folder, "tokenizer_config.json");
        var tokenizer = File.Exists(tokenizerFile) ? ReadObject(tokenizerFile) : new JsonObject();
        var side = Text(tokenizer, "padding_side", tokenizerFile) ?? "right";
        if (side is not ("right" or "left"))
        {
            throw new ModelFormatException(tokenizerFile, $"field 'padding_side' is '{side}'; expected \"right\" or \"left\"");
        }

        var padToken = tokenizer["pad_token"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject o => Text(o, "content", tokenizerFile),
            _ => null,
        };
        var context = Integer(config, "max_position_embeddings", configFile) ?? Integer(tokenizer, "model_max_length", tokenizerFile);
        return new RewardModelFolder(configFile, modelFile, Integer(config, "pad_token_id", configFile), padToken, side == "left", context);
    }

    private static JsonObject ReadObject(string file)
    {
        if (!File.Exists(file))
        {
            throw new ModelFormatException(file, "file not found");
        }

        try
        {
            return JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new ModelFormatException(file, "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(file, $"not valid JSON (line {e.LineNumber + 1}: {e.Message})", e);
        }
    }

    private static string? ClassName(JsonObject config) =>
        config["architectures"] is JsonArray { Count: > 0 } list && list[0] is JsonValue v && v.TryGetValue<string>(out var name) ? name : null;

    private static int? Integer(JsonObject json, string field, string file) => json[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        JsonValue v when v.TryGetValue<double>(out var d) && d >= int.MaxValue => int.MaxValue, // e.g. model_max_length 1e30: no limit
        _ => throw new ModelFormatException(file, $"field '{field}' must be an integer"),
    };

    private static string? Text(JsonObject json, string field, string file) => json[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new ModelFormatException(file, $"field '{field}' must be a string"),
    };
}

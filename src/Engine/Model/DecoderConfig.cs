using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distil.Engine.Model;

/// <summary>
/// What a model folder's JSON says about a decoder, whatever its architecture: Hugging Face <c>config.json</c>
/// (any <c>model_type</c>; Falcon's old keys <c>n_layer</c>/<c>n_head</c>/<c>n_head_kv</c>/<c>multi_query</c> too)
/// and/or ONNX Runtime GenAI's <c>genai_config.json</c> (model-builder folders ship only that one). The graph is
/// the authority on the cache's shape; these values supply context length and special tokens, fill in what a
/// graph leaves symbolic (head size), and are checked against the graph so a contradicting file is named.
/// </summary>
public sealed record DecoderConfig
{
    public const string FileName = "config.json";

    public const string GenAiFileName = "genai_config.json";

    /// <summary>Fallback context when neither file states one (as transformers assumes for old Llama configs).</summary>
    private const int DefaultContext = 8192;

    /// <summary>The file most values came from (config.json when present).</summary>
    public required string File { get; init; }

    public string? ModelType { get; init; }

    public string? Architecture { get; init; }

    public required Setting Context { get; init; }

    public int ContextLength => Context.Value;

    public int? BosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int? PadTokenId { get; init; }

    public Setting? Layers { get; init; }

    public Setting? Heads { get; init; }

    public Setting? KvHeads { get; init; }

    public Setting? HeadDim { get; init; }

    public Setting? HiddenSize { get; init; }

    public Setting? VocabSize { get; init; }

    /// <summary>torch_dtype of config.json, if stated.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>The decoder section of genai_config.json, when the folder has one.</summary>
    public GenAiDecoder? GenAi { get; init; }

    /// <summary>An integer setting and where it was read, so a contradiction names the file and field.</summary>
    public sealed record Setting(int Value, string File, string Field);

    /// <summary>genai_config.json's model.decoder: the ONNX file and the graph's input/output names.</summary>
    public sealed record GenAiDecoder(string File, string? FileNameInFolder, IReadOnlyDictionary<string, string> Inputs, IReadOnlyDictionary<string, string> Outputs, bool PastPresentShareBuffer);

    /// <summary>Reads config.json and/or genai_config.json of <paramref name="folder"/>; at least one must exist.</summary>
    public static DecoderConfig Load(string folder)
    {
        var hfPath = Path.Combine(folder, FileName);
        var genAiPath = Path.Combine(folder, GenAiFileName);
        var hf = System.IO.File.Exists(hfPath) ? Parse(hfPath) : null;
        var genAi = System.IO.File.Exists(genAiPath) ? Parse(genAiPath) : null;
        if (hf is null && genAi is null)
        {
            throw new ModelFormatException(hfPath, $"file not found (a model folder needs {FileName} or ONNX Runtime GenAI's {GenAiFileName})");
        }

        var fromHf = hf is null ? null : FromHuggingFace(hf, hfPath);
        var fromGenAi = genAi is null ? null : FromGenAi(genAi, genAiPath);
        if (fromHf is null)
        {
            return fromGenAi!;
        }

        if (fromGenAi is null)
        {
            return fromHf;
        }

        // config.json wins for what both state; genai_config.json adds the graph's names and file.
        return fromHf with
        {
            HeadDim = fromHf.HeadDim ?? fromGenAi.HeadDim,
            PadTokenId = fromHf.PadTokenId ?? fromGenAi.PadTokenId,
            GenAi = fromGenAi.GenAi,
        };
    }

    private static JsonObject Parse(string path)
    {
        try
        {
            return JsonNode.Parse(System.IO.File.ReadAllText(path)) as JsonObject ?? throw new ModelFormatException(path, "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON ({e.Message})", e);
        }
    }

    private static DecoderConfig FromHuggingFace(JsonObject json, string path)
    {
        var architectures = json["architectures"] as JsonArray;
        var kvHeads = Positive(json, path, "num_key_value_heads", "n_head_kv", "num_kv_heads");
        if (kvHeads is null && json["multi_query"] is JsonValue mq && mq.TryGetValue<bool>(out var multiQuery) && multiQuery)
        {
            kvHeads = new Setting(1, path, "multi_query");
        }

        var heads = Positive(json, path, "num_attention_heads", "n_head");
        kvHeads ??= heads;
        var config = new DecoderConfig
        {
            File = path,
            ModelType = Text(json, "model_type", path),
            Architecture = architectures?.Count > 0 && architectures[0] is JsonValue a && a.TryGetValue<string>(out var name) ? name : null,
            Context = Positive(json, path, "max_position_embeddings", "n_positions", "max_sequence_length", "seq_length") ?? new Setting(DefaultContext, path, "max_position_embeddings"),
            BosTokenId = TokenId(json, "bos_token_id", path),
            EosTokenIds = TokenIds(json["eos_token_id"], "eos_token_id", path),
            PadTokenId = TokenId(json, "pad_token_id", path),
            Layers = Positive(json, path, "num_hidden_layers", "n_layer", "num_layers"),
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = Positive(json, path, "head_dim"),
            HiddenSize = Positive(json, path, "hidden_size", "n_embd", "d_model"),
            VocabSize = Positive(json, path, "vocab_size"),
            TorchDtype = Text(json, "torch_dtype", path),
        };
        config.CheckTokenIds();
        return config;
    }

    private static DecoderConfig FromGenAi(JsonObject json, string path)
    {
        if (json["model"] is not JsonObject model)
        {
            throw new ModelFormatException(path, "field 'model' is missing or not an object");
        }

        if (model["decoder"] is not JsonObject decoder)
        {
            throw new ModelFormatException(path, "field 'model.decoder' is missing or not an object");
        }

        var search = json["search"] as JsonObject;
        var share = search?["past_present_share_buffer"] is JsonValue s && s.TryGetValue<bool>(out var shared) && shared;
        var config = new DecoderConfig
        {
            File = path,
            ModelType = Text(model, "type", path, "model."),
            Context = Positive(model, path, "context_length") is { } context ? context with { Field = "model.context_length" } : new Setting(DefaultContext, path, "model.context_length"),
            BosTokenId = TokenId(model, "bos_token_id", path, "model."),
            EosTokenIds = TokenIds(model["eos_token_id"], "model.eos_token_id", path),
            PadTokenId = TokenId(model, "pad_token_id", path, "model."),
            Layers = Prefixed(Positive(decoder, path, "num_hidden_layers")),
            Heads = Prefixed(Positive(decoder, path, "num_attention_heads")),
            KvHeads = Prefixed(Positive(decoder, path, "num_key_value_heads")),
            HeadDim = Prefixed(Positive(decoder, path, "head_size")),
            HiddenSize = Prefixed(Positive(decoder, path, "hidden_size")),
            VocabSize = Positive(model, path, "vocab_size") is { } vocab ? vocab with { Field = "model.vocab_size" } : null,
            GenAi = new GenAiDecoder(path, Text(decoder, "filename", path, "model.decoder."), Names(decoder, "inputs", path), Names(decoder, "outputs", path), share),
        };
        config.CheckTokenIds();
        return config;

        static Setting? Prefixed(Setting? setting) => setting is null ? null : setting with { Field = "model.decoder." + setting.Field };
    }

    private static Dictionary<string, string> Names(JsonObject decoder, string section, string path)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        if (decoder[section] is not JsonObject map)
        {
            return names;
        }

        foreach (var (key, value) in map)
        {
            names[key] = value is JsonValue v && v.TryGetValue<string>(out var text) ? text : throw new ModelFormatException(path, $"field 'model.decoder.{section}.{key}' must be a string");
        }

        return names;
    }

    private void CheckTokenIds()
    {
        if (VocabSize is not { } vocab)
        {
            return;
        }

        foreach (var (field, id) in EosTokenIds.Select(id => ("eos_token_id", (int?)id)).Append(("bos_token_id", BosTokenId)).Append(("pad_token_id", PadTokenId)))
        {
            if (id is { } value && value >= vocab.Value)
            {
                throw new ModelFormatException(File, $"field '{field}' is {value} but '{vocab.Field}' is {vocab.Value}");
            }
        }
    }

    /// <summary>The first of <paramref name="fields"/> present; it must be a positive integer.</summary>
    private static Setting? Positive(JsonObject json, string path, params string[] fields)
    {
        foreach (var field in fields)
        {
            if (json[field] is not { } node)
            {
                continue;
            }

            return node is JsonValue v && v.TryGetValue<int>(out var value) && value > 0
                ? new Setting(value, path, field)
                : throw new ModelFormatException(path, $"field '{field}' must be a positive integer (got {node.ToJsonString()})");
        }

        return null;
    }

    private static string? Text(JsonObject json, string field, string path, string prefix = "") => json[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var text) => text,
        var other => throw new ModelFormatException(path, $"field '{prefix}{field}' must be a string (got {other.ToJsonString()})"),
    };

    private static int? TokenId(JsonObject json, string field, string path, string prefix = "")
    {
        var ids = TokenIds(json[field], prefix + field, path);
        return ids.Count switch
        {
            0 => null,
            1 => ids[0],
            _ => throw new ModelFormatException(path, $"field '{prefix}{field}' must be one token id"),
        };
    }

    /// <summary>An int or a list of ints (eos_token_id takes both forms); ids are never negative.</summary>
    private static IReadOnlyList<int> TokenIds(JsonNode? node, string field, string path)
    {
        int[] ids;
        try
        {
            ids = node switch
            {
                null => [],
                JsonArray array => array.Select(x => x!.GetValue<int>()).ToArray(),
                _ => [node.GetValue<int>()],
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new ModelFormatException(path, $"field '{field}' must be a token id or a list of token ids", e);
        }

        if (ids.FirstOrDefault(id => id < 0, 0) is var negative && negative < 0)
        {
            throw new ModelFormatException(path, $"field '{field}' is {negative}; token ids are never negative");
        }

        return ids;
    }
}

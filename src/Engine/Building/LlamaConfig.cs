using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distil.Engine.Building;

/// <summary>The fields of a Hugging Face <c>config.json</c> that a Llama-architecture decoder needs
/// (Llama 2/3.x, Falcon3 and other LlamaForCausalLM checkpoints).</summary>
public sealed record LlamaConfig
{
    public required int HiddenSize { get; init; }

    public required int IntermediateSize { get; init; }

    public required int NumLayers { get; init; }

    public required int NumHeads { get; init; }

    public required int NumKvHeads { get; init; }

    public required int HeadDim { get; init; }

    public required int VocabSize { get; init; }

    public int MaxPositionEmbeddings { get; init; } = 8192;

    public double RmsNormEps { get; init; } = 1e-5;

    public double RopeTheta { get; init; } = 500000;

    public RopeScaling? RopeScaling { get; init; }

    public bool TieWordEmbeddings { get; init; }

    public int? BosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>"float32", "float16" or "bfloat16" as in torch_dtype.</summary>
    public string TorchDtype { get; init; } = "float32";

    public static LlamaConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFormatException(path, "file not found");
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON ({e.Message})", e);
        }

        if (root is not JsonObject json)
        {
            throw new ModelFormatException(path, "expected a JSON object");
        }

        return Parse(json, path);
    }

    public static LlamaConfig Parse(JsonObject json, string path)
    {
        var architectures = json["architectures"] as JsonArray;
        var architecture = architectures?.Count > 0 ? architectures[0]?.GetValue<string>() : null;
        if (architecture != "LlamaForCausalLM")
        {
            throw new ModelFormatException(path, $"field 'architectures' is {(architectures is null ? "missing" : architectures.ToJsonString())}; only LlamaForCausalLM (Llama 3.x, Falcon3) is supported");
        }

        foreach (var flag in new[] { "attention_bias", "mlp_bias" })
        {
            if (json[flag] is JsonValue v && v.TryGetValue<bool>(out var on) && on)
            {
                throw new ModelFormatException(path, $"field '{flag}' is true; biases in Llama projections are not supported");
            }
        }

        var hidden = Int(json, "hidden_size", path);
        var heads = Int(json, "num_attention_heads", path);
        var kvHeads = OptionalInt(json, "num_key_value_heads", path) ?? heads;
        if (kvHeads <= 0 || heads % kvHeads != 0)
        {
            throw new ModelFormatException(path, $"field 'num_key_value_heads' ({kvHeads}) must divide num_attention_heads ({heads})");
        }

        return new LlamaConfig
        {
            HiddenSize = hidden,
            IntermediateSize = Int(json, "intermediate_size", path),
            NumLayers = Int(json, "num_hidden_layers", path),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = OptionalInt(json, "head_dim", path) ?? hidden / heads,
            VocabSize = Int(json, "vocab_size", path),
            MaxPositionEmbeddings = OptionalInt(json, "max_position_embeddings", path) ?? 8192,
            RmsNormEps = OptionalDouble(json, "rms_norm_eps", path) ?? 1e-6,
            RopeTheta = OptionalDouble(json, "rope_theta", path) ?? 10000,
            RopeScaling = ParseRopeScaling(json["rope_scaling"], path),
            TieWordEmbeddings = json["tie_word_embeddings"] is JsonValue tie && tie.TryGetValue<bool>(out var tied) && tied,
            BosTokenId = OptionalInt(json, "bos_token_id", path),
            EosTokenIds = TokenIds(json["eos_token_id"], "eos_token_id", path),
            TorchDtype = json["torch_dtype"]?.GetValue<string>() ?? "float32",
        };
    }

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumLayers,
            ["num_attention_heads"] = NumHeads,
            ["num_key_value_heads"] = NumKvHeads,
            ["head_dim"] = HeadDim,
            ["vocab_size"] = VocabSize,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["hidden_act"] = "silu",
            ["torch_dtype"] = TorchDtype,
            ["use_cache"] = true,
        };
        if (RopeScaling is { } s)
        {
            json["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3",
                ["factor"] = s.Factor,
                ["low_freq_factor"] = s.LowFreqFactor,
                ["high_freq_factor"] = s.HighFreqFactor,
                ["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings,
            };
        }

        if (BosTokenId is { } bos)
        {
            json["bos_token_id"] = bos;
        }

        if (EosTokenIds.Count > 0)
        {
            json["eos_token_id"] = EosTokenIds.Count == 1 ? EosTokenIds[0] : new JsonArray(EosTokenIds.Select(id => (JsonNode?)id).ToArray());
        }

        return json;
    }

    /// <summary>An int or a list of ints (eos_token_id takes both forms).</summary>
    internal static IReadOnlyList<int> TokenIds(JsonNode? node, string field, string path)
    {
        try
        {
            return node switch
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
    }

    private static RopeScaling? ParseRopeScaling(JsonNode? node, string path)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject scaling)
        {
            throw new ModelFormatException(path, "field 'rope_scaling' must be an object or null");
        }

        var type = (scaling["rope_type"] ?? scaling["type"])?.GetValue<string>();
        if (type is "default" or null && scaling["factor"] is null)
        {
            return null;
        }

        if (type != "llama3")
        {
            throw new ModelFormatException(path, $"field 'rope_scaling.rope_type' is '{type}'; only 'llama3' rope scaling is supported");
        }

        return new RopeScaling(
            OptionalDouble(scaling, "factor", path, "rope_scaling.") ?? 8,
            OptionalDouble(scaling, "low_freq_factor", path, "rope_scaling.") ?? 1,
            OptionalDouble(scaling, "high_freq_factor", path, "rope_scaling.") ?? 4,
            OptionalInt(scaling, "original_max_position_embeddings", path, "rope_scaling.") ?? 8192);
    }

    private static int Int(JsonObject json, string field, string path) =>
        OptionalInt(json, field, path) is { } value && value > 0 ? value : throw new ModelFormatException(path, $"field '{field}' is missing or not a positive integer");

    private static int? OptionalInt(JsonObject json, string field, string path, string prefix = "")
    {
        if (json[field] is not { } node)
        {
            return null;
        }

        return node is JsonValue v && v.TryGetValue<int>(out var value) ? value : throw new ModelFormatException(path, $"field '{prefix}{field}' must be an integer");
    }

    private static double? OptionalDouble(JsonObject json, string field, string path, string prefix = "")
    {
        if (json[field] is not { } node)
        {
            return null;
        }

        return node is JsonValue v && v.TryGetValue<double>(out var value) ? value : throw new ModelFormatException(path, $"field '{prefix}{field}' must be a number");
    }
}

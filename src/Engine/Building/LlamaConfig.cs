using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine.Model;

namespace Distil.Engine.Building;

/// <summary>The fields of a Hugging Face <c>config.json</c> that a decoder the builder writes needs: Llama-architecture
/// checkpoints (Llama 2/3.x, Falcon3 and other LlamaForCausalLM), Qwen2/2.5, Qwen3 and Falcon.</summary>
public sealed record LlamaConfig
{
    public DecoderArchitecture Architecture { get; init; } = DecoderArchitecture.Llama;

    /// <summary>Biases on the q/k/v projections (Qwen2).</summary>
    public bool QkvBias { get; init; }

    /// <summary>RMSNorm over each query and key head before rope (Qwen3).</summary>
    public bool QkNorm { get; init; }

    /// <summary>Set for Falcon, whose layer shape differs from Llama's; <see cref="RmsNormEps"/> then holds its
    /// LayerNorm epsilon.</summary>
    public FalconLayout? Falcon { get; init; }

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

    /// <summary>Set for a sequence classifier (<c>LlamaForSequenceClassification</c>, a reward model): a score head
    /// (<c>score.weight</c>, [num_labels, hidden]) read at each row's last real token replaces the lm_head, and the
    /// graph has no KV cache.</summary>
    public int? NumLabels { get; init; }

    /// <summary>The padding id a sequence classifier's batches are padded with (config.json's pad_token_id).</summary>
    public int? PadTokenId { get; init; }

    /// <summary>Whether this is a sequence classifier rather than a causal LM.</summary>
    public bool ClassifiesSequences => NumLabels is not null;

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
        var className = architectures?.Count > 0 ? architectures[0]?.GetValue<string>() : null;
        var modelType = json["model_type"] is JsonValue t && t.TryGetValue<string>(out var type) ? type : null;
        if (DecoderArchitectures.FromConfig(className, modelType) is not { } architecture)
        {
            throw new ModelFormatException(path, $"field 'architectures' is {(architectures is null ? $"missing and model_type is '{modelType}'" : architectures.ToJsonString())}; supported: LlamaForCausalLM (Llama 3.x, Falcon3), Qwen2ForCausalLM, Qwen3ForCausalLM, FalconForCausalLM");
        }

        if (architecture == DecoderArchitecture.Falcon)
        {
            return FalconLayout.Parse(json, path);
        }

        if (architecture == DecoderArchitecture.Qwen2 && json["use_sliding_window"] is JsonValue sliding && sliding.TryGetValue<bool>(out var windowed) && windowed)
        {
            throw new ModelFormatException(path, "field 'use_sliding_window' is true; sliding-window attention is not supported");
        }

        foreach (var flag in new[] { "attention_bias", "mlp_bias" })
        {
            if (json[flag] is JsonValue v && v.TryGetValue<bool>(out var on) && on)
            {
                throw new ModelFormatException(path, $"field '{flag}' is true; biases in Llama projections are not supported");
            }
        }

        var hidden = Int(json, path, "hidden_size");
        var heads = Int(json, path, "num_attention_heads");
        var kvHeads = OptionalInt(json, "num_key_value_heads", path) ?? heads;
        if (kvHeads <= 0 || heads % kvHeads != 0)
        {
            throw new ModelFormatException(path, $"field 'num_key_value_heads' ({kvHeads}) must divide num_attention_heads ({heads})");
        }

        return new LlamaConfig
        {
            Architecture = architecture,
            QkvBias = architecture == DecoderArchitecture.Qwen2,
            QkNorm = architecture == DecoderArchitecture.Qwen3,
            HiddenSize = hidden,
            IntermediateSize = Int(json, path, "intermediate_size"),
            NumLayers = Int(json, path, "num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = OptionalInt(json, "head_dim", path) ?? hidden / heads,
            VocabSize = Int(json, path, "vocab_size"),
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
        var json = Falcon?.ToJson(this) ?? LlamaShapedJson();
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

    private JsonObject LlamaShapedJson()
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(ClassifiesSequences ? Architecture.ClassName().Replace("ForCausalLM", "ForSequenceClassification", StringComparison.Ordinal) : Architecture.ClassName()),
            ["model_type"] = Architecture.ModelType(),
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
            ["use_cache"] = !ClassifiesSequences,
        };
        if (NumLabels is { } labels)
        {
            json["num_labels"] = labels;
            if (PadTokenId is { } pad)
            {
                json["pad_token_id"] = pad;
            }
        }

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

        if (Architecture == DecoderArchitecture.Qwen2)
        {
            json["use_sliding_window"] = false;
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

    /// <summary>A required positive integer, under its name or older aliases (Falcon's n_head, n_layer, …).</summary>
    internal static int Int(JsonObject json, string path, string field, params string[] aliases)
    {
        foreach (var name in aliases.Prepend(field))
        {
            if (OptionalInt(json, name, path) is { } value)
            {
                return value > 0 ? value : throw new ModelFormatException(path, $"field '{name}' must be a positive integer");
            }
        }

        throw new ModelFormatException(path, $"field '{field}' is missing or not a positive integer");
    }

    internal static int? OptionalInt(JsonObject json, string field, string path, string prefix = "")
    {
        if (json[field] is not { } node)
        {
            return null;
        }

        return node is JsonValue v && v.TryGetValue<int>(out var value) ? value : throw new ModelFormatException(path, $"field '{prefix}{field}' must be an integer");
    }

    internal static double? OptionalDouble(JsonObject json, string field, string path, string prefix = "")
    {
        if (json[field] is not { } node)
        {
            return null;
        }

        return node is JsonValue v && v.TryGetValue<double>(out var value) ? value : throw new ModelFormatException(path, $"field '{prefix}{field}' must be a number");
    }
}

using Distil.Engine.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Distil.Engine.Onnx;

/// <summary>
/// The interface of a decoder graph, read from its inputs and outputs rather than assumed, so that any
/// decoder-only export drives the same way whatever its architecture: <c>input_ids</c>, <c>attention_mask</c>,
/// optional <c>position_ids</c> and <c>use_cache_branch</c> (Optimum's merged decoders), and per layer a past
/// key/value in ([batch, kv_heads, seq, head_dim]) and a present key/value out. Names follow Optimum and
/// transformers.js (<c>past_key_values.{i}.key</c> → <c>present.{i}.key</c>) unless genai_config.json renames them.
/// </summary>
internal sealed record KvLayout(
    int Layers,
    int KvHeads,
    int HeadDim,
    int VocabSize,
    TensorElementType KvType,
    TensorElementType LogitsType,
    bool HasPositionIds,
    bool HasCacheBranchFlag)
{
    public const string CacheBranchInput = "use_cache_branch";

    public string InputIds { get; init; } = "input_ids";

    public string AttentionMask { get; init; } = "attention_mask";

    public string PositionIds { get; init; } = "position_ids";

    public string Logits { get; init; } = "logits";

    /// <summary>Past key/value inputs, key and value of layer i at 2i and 2i+1.</summary>
    public string[] PastNames { get; init; } = Names(Layers, "past_key_values.%d.key", "past_key_values.%d.value");

    public string[] PresentNames { get; init; } = Names(Layers, "present.%d.key", "present.%d.value");

    /// <summary>
    /// True when attention reads each row's length from the mask's sum (ONNX Runtime's GroupQueryAttention, as
    /// model-builder graphs and Distil's own builder use) instead of applying the mask per column: such a graph takes
    /// every row's tokens as starting at column 0, so the scheduler keeps its caches left-aligned.
    /// </summary>
    public bool LengthsFromMask { get; init; }

    /// <summary>True when the graph takes <see cref="LogitsSelection.Input"/>: a prefill can ask for each row's last
    /// real token alone instead of every position's logits.</summary>
    public bool SelectsLogitsPositions { get; init; }

    /// <summary>Bytes of keys and values one token occupies in the cache (all layers).</summary>
    public long KvBytesPerToken => 2L * Layers * KvHeads * HeadDim * (KvType == TensorElementType.Float16 ? 2 : 4);

    public static KvLayout Discover(InferenceSession session, string modelFile, DecoderConfig config, OnnxFileSummary summary)
    {
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        var genAi = config.GenAi;
        string Name(IReadOnlyDictionary<string, string>? map, string key, string fallback) =>
            map is not null && map.TryGetValue(key, out var name) ? name : fallback;

        var ids = Name(genAi?.Inputs, "input_ids", "input_ids");
        var mask = Name(genAi?.Inputs, "attention_mask", "attention_mask");
        var positions = Name(genAi?.Inputs, "position_ids", "position_ids");
        var logitsName = Name(genAi?.Outputs, "logits", "logits");
        var pastKey = Name(genAi?.Inputs, "past_key_names", "past_key_values.%d.key");
        var pastValue = Name(genAi?.Inputs, "past_value_names", "past_key_values.%d.value");
        var presentKey = Name(genAi?.Outputs, "present_key_names", "present.%d.key");
        var presentValue = Name(genAi?.Outputs, "present_value_names", "present.%d.value");

        foreach (var required in new[] { ids, mask })
        {
            if (!inputs.TryGetValue(required, out var meta))
            {
                throw new ModelFormatException(modelFile, $"graph input '{required}' is missing (inputs: {string.Join(", ", inputs.Keys)})");
            }

            if (meta.ElementDataType != TensorElementType.Int64)
            {
                throw new ModelFormatException(modelFile, $"graph input '{required}' is {meta.ElementDataType}; Distil feeds int64");
            }
        }

        if (inputs.TryGetValue(positions, out var positionMeta) && positionMeta.ElementDataType != TensorElementType.Int64)
        {
            throw new ModelFormatException(modelFile, $"graph input '{positions}' is {positionMeta.ElementDataType}; Distil feeds int64");
        }

        if (!outputs.TryGetValue(logitsName, out var logits))
        {
            throw new ModelFormatException(modelFile, $"graph output '{logitsName}' is missing (outputs: {string.Join(", ", outputs.Keys)})");
        }

        if (logits.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
        {
            throw new ModelFormatException(modelFile, $"graph output '{logitsName}' is {logits.ElementDataType}; Distil reads float32 or float16 logits");
        }

        var layers = 0;
        while (inputs.ContainsKey(Layer(pastKey, layers)))
        {
            layers++;
        }

        if (layers == 0)
        {
            throw new ModelFormatException(modelFile, $"graph has no KV-cache input '{Layer(pastKey, 0)}'; export the model with its KV cache (Optimum task text-generation-with-past)");
        }

        var pastNames = Names(layers, pastKey, pastValue);
        var presentNames = Names(layers, presentKey, presentValue);
        var first = inputs[pastNames[0]];
        if (first.Dimensions.Length != 4)
        {
            throw new ModelFormatException(modelFile, $"graph input '{pastNames[0]}' has rank {first.Dimensions.Length}; Distil drives caches shaped [batch, kv_heads, seq, head_dim]");
        }

        if (first.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
        {
            throw new ModelFormatException(modelFile, $"graph input '{pastNames[0]}' is {first.ElementDataType}; Distil keeps float32 or float16 caches");
        }

        for (var i = 0; i < pastNames.Length; i++)
        {
            if (!inputs.TryGetValue(pastNames[i], out var past))
            {
                throw new ModelFormatException(modelFile, $"graph lacks input '{pastNames[i]}'");
            }

            if (!outputs.ContainsKey(presentNames[i]))
            {
                throw new ModelFormatException(modelFile, $"graph lacks output '{presentNames[i]}' (the cache '{pastNames[i]}' is not handed back)");
            }

            if (past.ElementDataType != first.ElementDataType || past.Dimensions.Length != 4 || past.Dimensions[1] != first.Dimensions[1] || past.Dimensions[3] != first.Dimensions[3])
            {
                throw new ModelFormatException(modelFile, $"graph input '{pastNames[i]}' differs in type or shape from '{pastNames[0]}'");
            }
        }

        var known = new HashSet<string>(pastNames, StringComparer.Ordinal) { ids, mask, positions, CacheBranchInput };
        foreach (var input in inputs.Keys)
        {
            if (!known.Contains(input))
            {
                throw new ModelFormatException(modelFile, $"graph input '{input}' is not one Distil can feed (it feeds {ids}, {mask}, {positions}, {CacheBranchInput} and {Layer(pastKey, 0)}…)");
            }
        }

        return new KvLayout(
            layers,
            Dimension(first.Dimensions[1], config.KvHeads, pastNames[0], "kv_heads", modelFile),
            Dimension(first.Dimensions[3], config.HeadDim ?? DerivedHeadDim(config), pastNames[0], "head_dim", modelFile),
            logits.Dimensions.Length == 3 ? logits.Dimensions[2] : -1,
            first.ElementDataType,
            logits.ElementDataType,
            inputs.ContainsKey(positions),
            inputs.ContainsKey(CacheBranchInput))
        {
            InputIds = ids,
            AttentionMask = mask,
            PositionIds = positions,
            Logits = logitsName,
            PastNames = pastNames,
            PresentNames = presentNames,
            LengthsFromMask = summary.Uses("GroupQueryAttention"),
            SelectsLogitsPositions = session.OverridableInitializerMetadata.TryGetValue(LogitsSelection.Input, out var selector) && selector.ElementDataType == TensorElementType.Int64,
        };
    }

    /// <summary>The cache's shape read from the file alone, without a session (for planning before loading):
    /// layers, KV heads, head size and the element size of the cache.</summary>
    public static (int Layers, int KvHeads, int HeadDim, int ElementBytes) Shape(OnnxFileSummary summary, DecoderConfig config)
    {
        var template = config.GenAi?.Inputs.GetValueOrDefault("past_key_names") ?? "past_key_values.%d.key";
        var inputs = summary.Inputs.ToDictionary(i => i.Name);
        var layers = 0;
        while (inputs.ContainsKey(Layer(template, layers)))
        {
            layers++;
        }

        if (layers == 0 || inputs[Layer(template, 0)].Dims is not { Length: 4 } dims)
        {
            throw new ModelFormatException(summary.File, $"graph has no KV-cache input '{Layer(template, 0)}' shaped [batch, kv_heads, seq, head_dim]");
        }

        var name = Layer(template, 0);
        return (layers, Dimension(dims[1], config.KvHeads, name, "kv_heads", summary.File), Dimension(dims[3], config.HeadDim ?? DerivedHeadDim(config), name, "head_dim", summary.File), inputs[name].DataType == 10 ? 2 : 4);
    }

    /// <summary>hidden_size / num_attention_heads, the head size Hugging Face assumes when head_dim is not stated.</summary>
    private static DecoderConfig.Setting? DerivedHeadDim(DecoderConfig config) =>
        config is { HiddenSize: { } hidden, Heads: { } heads } && hidden.Value % heads.Value == 0
            ? new DecoderConfig.Setting(hidden.Value / heads.Value, hidden.File, hidden.Field)
            : null;

    /// <summary>A fixed graph dimension, or the config's value where the graph leaves it symbolic (model-builder
    /// graphs since ONNX Runtime GenAI 0.15 leave the head size open; running them unfilled fails every request).</summary>
    private static int Dimension(long fromGraph, DecoderConfig.Setting? fromConfig, string input, string what, string modelFile)
    {
        if (fromGraph > 0)
        {
            return (int)fromGraph;
        }

        return fromConfig?.Value ?? throw new ModelFormatException(modelFile, $"graph input '{input}' leaves its {what} dimension symbolic and the folder's config does not state it (config.json '{(what == "head_dim" ? "head_dim" : "num_key_value_heads")}' or genai_config.json 'model.decoder.{(what == "head_dim" ? "head_size" : "num_key_value_heads")}')");
    }

    private static string Layer(string template, int layer) => template.Replace("%d", layer.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static string[] Names(int layers, string keyTemplate, string valueTemplate) =>
        Enumerable.Range(0, layers).SelectMany(i => new[] { Layer(keyTemplate, i), Layer(valueTemplate, i) }).ToArray();
}

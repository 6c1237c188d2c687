using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Distil.Engine.Onnx;

/// <summary>
/// The cache interface of a decoder graph, discovered from its inputs and outputs rather than assumed, so
/// that graphs exported by Optimum load as well as ours: <c>past_key_values.{i}.key|value</c> in,
/// <c>present.{i}.key|value</c> out, [batch, kv_heads, seq, head_dim].
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
    public string[] PastNames { get; } = Names(Layers, "past_key_values");

    public string[] PresentNames { get; } = Names(Layers, "present");

    public static KvLayout Discover(InferenceSession session, string modelFile)
    {
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        foreach (var required in new[] { "input_ids", "attention_mask" })
        {
            if (!inputs.ContainsKey(required))
            {
                throw new ModelFormatException(modelFile, $"graph input '{required}' is missing (inputs: {string.Join(", ", inputs.Keys)})");
            }
        }

        if (!outputs.TryGetValue("logits", out var logits))
        {
            throw new ModelFormatException(modelFile, "graph output 'logits' is missing");
        }

        var layers = 0;
        while (inputs.ContainsKey($"past_key_values.{layers}.key"))
        {
            layers++;
        }

        if (layers == 0)
        {
            throw new ModelFormatException(modelFile, "graph has no 'past_key_values.0.key' input; export the model with its KV cache (Optimum task text-generation-with-past)");
        }

        var past = inputs["past_key_values.0.key"];
        if (past.Dimensions.Length != 4)
        {
            throw new ModelFormatException(modelFile, $"input 'past_key_values.0.key' has rank {past.Dimensions.Length}; expected [batch, kv_heads, seq, head_dim]");
        }

        for (var i = 0; i < layers; i++)
        {
            foreach (var kind in new[] { "key", "value" })
            {
                if (!outputs.ContainsKey($"present.{i}.{kind}") || !inputs.ContainsKey($"past_key_values.{i}.{kind}"))
                {
                    throw new ModelFormatException(modelFile, $"graph lacks 'past_key_values.{i}.{kind}' or 'present.{i}.{kind}'");
                }
            }
        }

        return new KvLayout(
            layers,
            past.Dimensions[1],
            past.Dimensions[3],
            logits.Dimensions.Length == 3 ? logits.Dimensions[2] : -1,
            past.ElementDataType,
            logits.ElementDataType,
            inputs.ContainsKey("position_ids"),
            inputs.ContainsKey("use_cache_branch"));
    }

    private static string[] Names(int layers, string prefix) =>
        Enumerable.Range(0, layers).SelectMany(i => new[] { $"{prefix}.{i}.key", $"{prefix}.{i}.value" }).ToArray();
}

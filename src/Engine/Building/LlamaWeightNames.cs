namespace Distil.Engine.Building;

/// <summary>Hugging Face parameter names of a Llama-shaped decoder (Llama, Qwen2, Qwen3).</summary>
public static class LlamaWeightNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    /// <summary>A sequence classifier's head, [num_labels, hidden].</summary>
    public const string Score = "score.weight";

    public static string Layer(int layer, string part) => $"model.layers.{layer}.{part}.weight";

    public static string LayerBias(int layer, string part) => $"model.layers.{layer}.{part}.bias";

    /// <summary>Every parameter with its HF shape (Falcon's own names for a Falcon config).</summary>
    public static IEnumerable<(string Name, long[] Shape)> All(LlamaConfig c) =>
        c.Architecture == DecoderArchitecture.Falcon ? FalconWeightNames.All(c) : LlamaShaped(c);

    private static IEnumerable<(string Name, long[] Shape)> LlamaShaped(LlamaConfig c)
    {
        yield return (Embedding, [c.VocabSize, c.HiddenSize]);
        for (var i = 0; i < c.NumLayers; i++)
        {
            yield return (Layer(i, "input_layernorm"), [c.HiddenSize]);
            yield return (Layer(i, "self_attn.q_proj"), [c.NumHeads * c.HeadDim, c.HiddenSize]);
            yield return (Layer(i, "self_attn.k_proj"), [c.NumKvHeads * c.HeadDim, c.HiddenSize]);
            yield return (Layer(i, "self_attn.v_proj"), [c.NumKvHeads * c.HeadDim, c.HiddenSize]);
            if (c.QkvBias)
            {
                yield return (LayerBias(i, "self_attn.q_proj"), [c.NumHeads * c.HeadDim]);
                yield return (LayerBias(i, "self_attn.k_proj"), [c.NumKvHeads * c.HeadDim]);
                yield return (LayerBias(i, "self_attn.v_proj"), [c.NumKvHeads * c.HeadDim]);
            }

            if (c.QkNorm)
            {
                yield return (Layer(i, "self_attn.q_norm"), [c.HeadDim]);
                yield return (Layer(i, "self_attn.k_norm"), [c.HeadDim]);
            }

            yield return (Layer(i, "self_attn.o_proj"), [c.HiddenSize, c.NumHeads * c.HeadDim]);
            yield return (Layer(i, "post_attention_layernorm"), [c.HiddenSize]);
            yield return (Layer(i, "mlp.gate_proj"), [c.IntermediateSize, c.HiddenSize]);
            yield return (Layer(i, "mlp.up_proj"), [c.IntermediateSize, c.HiddenSize]);
            yield return (Layer(i, "mlp.down_proj"), [c.HiddenSize, c.IntermediateSize]);
        }

        yield return (FinalNorm, [c.HiddenSize]);
        if (c.NumLabels is { } labels)
        {
            yield return (Score, [labels, c.HiddenSize]);
        }
        else if (!c.TieWordEmbeddings)
        {
            yield return (LmHead, [c.VocabSize, c.HiddenSize]);
        }
    }
}

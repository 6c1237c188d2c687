namespace Distil.Engine.Building;

/// <summary>Hugging Face parameter names of a Falcon decoder (<c>transformer.h.N.…</c>).</summary>
public static class FalconWeightNames
{
    public const string Embedding = "transformer.word_embeddings.weight";
    public const string LmHead = "lm_head.weight";

    public static string Layer(int layer, string part) => $"transformer.h.{layer}.{part}";

    /// <summary>Every parameter with its HF shape; the fused query_key_value holds (heads + 2·kv_heads)·head_dim rows.</summary>
    public static IEnumerable<(string Name, long[] Shape)> All(LlamaConfig c)
    {
        var falcon = c.Falcon ?? throw new ArgumentException("not a Falcon config", nameof(c));
        yield return (Embedding, [c.VocabSize, c.HiddenSize]);
        for (var i = 0; i < c.NumLayers; i++)
        {
            foreach (var norm in LayerNorms(falcon))
            {
                yield return (Layer(i, $"{norm}.weight"), [c.HiddenSize]);
                yield return (Layer(i, $"{norm}.bias"), [c.HiddenSize]);
            }

            foreach (var (part, outputs, inputs) in new[]
            {
                ("self_attention.query_key_value", (c.NumHeads + (2 * c.NumKvHeads)) * c.HeadDim, c.HiddenSize),
                ("self_attention.dense", c.HiddenSize, c.NumHeads * c.HeadDim),
                ("mlp.dense_h_to_4h", c.IntermediateSize, c.HiddenSize),
                ("mlp.dense_4h_to_h", c.HiddenSize, c.IntermediateSize),
            })
            {
                yield return (Layer(i, $"{part}.weight"), [outputs, inputs]);
                if (falcon.Bias)
                {
                    yield return (Layer(i, $"{part}.bias"), [outputs]);
                }
            }
        }

        yield return ("transformer.ln_f.weight", [c.HiddenSize]);
        yield return ("transformer.ln_f.bias", [c.HiddenSize]);
        if (!c.TieWordEmbeddings)
        {
            yield return (LmHead, [c.VocabSize, c.HiddenSize]);
        }
    }

    /// <summary>The LayerNorms of one layer: ln_attn + ln_mlp (new architecture), input_layernorm and, when the MLP
    /// follows attention, post_attention_layernorm.</summary>
    public static IEnumerable<string> LayerNorms(FalconLayout falcon) =>
        falcon.TwoLayerNorms ? ["ln_attn", "ln_mlp"]
        : falcon.ParallelAttention ? ["input_layernorm"]
        : ["input_layernorm", "post_attention_layernorm"];
}

using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Expresses a Falcon decoder as an opset-17 ONNX graph: LayerNorm (with bias), one fused query_key_value
/// projection split the way Hugging Face's FalconAttention views it, rotary attention over grouped (or one,
/// multi-query) KV heads, an exact-erf GELU MLP, attention and MLP in parallel or in sequence, and a tied head.
/// </summary>
internal sealed class FalconGraphBuilder
{
    private readonly LlamaConfig _c;
    private readonly FalconLayout _falcon;
    private readonly DecoderGraph _d;
    private readonly GraphBuilder _g;

    private FalconGraphBuilder(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype, AttentionKernel attention)
    {
        _c = config;
        _falcon = config.Falcon ?? throw new ArgumentException("not a Falcon config", nameof(config));
        _d = new DecoderGraph(config, weights, dtype, attention);
        _g = _d.G;
    }

    public static OnnxGraph Build(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype, AttentionKernel attention) =>
        new FalconGraphBuilder(config, weights, dtype, attention).Build();

    private OnnxGraph Build()
    {
        var hidden = _d.Embed(FalconWeightNames.Embedding);
        for (var layer = 0; layer < _c.NumLayers; layer++)
        {
            hidden = Layer(layer, hidden);
        }

        hidden = _d.LayerNorm(hidden, "transformer.ln_f.weight", "transformer.ln_f.bias");
        return _d.Finish(hidden, _c.TieWordEmbeddings ? FalconWeightNames.Embedding : FalconWeightNames.LmHead);
    }

    private string Layer(int layer, string hidden)
    {
        if (_falcon.TwoLayerNorms)
        {
            var attention = Attention(layer, Norm(layer, "ln_attn", hidden));
            var mlp = Mlp(layer, Norm(layer, "ln_mlp", hidden));
            return _g.Op("Add", hidden, _g.Op("Add", mlp, attention));
        }

        var normed = Norm(layer, "input_layernorm", hidden);
        var attended = Attention(layer, normed);
        if (_falcon.ParallelAttention)
        {
            return _g.Op("Add", hidden, _g.Op("Add", Mlp(layer, normed), attended));
        }

        var residual = _g.Op("Add", hidden, attended);
        return _g.Op("Add", residual, Mlp(layer, Norm(layer, "post_attention_layernorm", residual)));
    }

    private string Attention(int layer, string x)
    {
        // Hugging Face views the fused output as [b, s, kv_heads, heads/kv_heads + 2, d]: each KV group holds its
        // query heads, then its key, then its value. The old layouts are this view too: per-head [q, k, v]
        // (kv_heads = heads) and multi-query [q × heads, k, v] (kv_heads = 1).
        var group = _c.NumHeads / _c.NumKvHeads;
        var fused = Linear(layer, "self_attention.query_key_value", x);
        var grouped = _g.Op("Reshape", fused, _g.Int64s(0, 0, _c.NumKvHeads, group + 2, _c.HeadDim));
        string Part(int start, int end, int heads) =>
            _d.Heads(_g.Op("Reshape", _g.Op("Slice", grouped, _g.Int64s(start), _g.Int64s(end), _g.Int64s(3)), _g.Int64s(0, 0, heads * _c.HeadDim)), heads);

        var q = Part(0, group, _c.NumHeads);
        var k = Part(group, group + 1, _c.NumKvHeads);
        var v = Part(group + 1, group + 2, _c.NumKvHeads);
        var context = _d.Attend(layer, _d.Rotate(q), _d.Rotate(k), v);
        return Linear(layer, "self_attention.dense", context);
    }

    /// <summary>dense_h_to_4h, exact GELU (0.5·x·(1 + erf(x/√2)), as torch's default), dense_4h_to_h.</summary>
    private string Mlp(int layer, string x)
    {
        var up = Linear(layer, "mlp.dense_h_to_4h", x);
        var erf = _g.Op("Erf", _g.Op("Mul", up, _g.Scalar((float)(1 / Math.Sqrt(2)), _d.DataType)));
        var gelu = _g.Op("Mul", _g.Op("Mul", up, _g.Scalar(0.5f, _d.DataType)), _g.Op("Add", erf, _g.Scalar(1f, _d.DataType)));
        return Linear(layer, "mlp.dense_4h_to_h", gelu);
    }

    private string Linear(int layer, string part, string x) =>
        _d.Linear(x, FalconWeightNames.Layer(layer, $"{part}.weight"), _falcon.Bias ? FalconWeightNames.Layer(layer, $"{part}.bias") : null);

    private string Norm(int layer, string name, string x) =>
        _d.LayerNorm(x, FalconWeightNames.Layer(layer, $"{name}.weight"), FalconWeightNames.Layer(layer, $"{name}.bias"));
}

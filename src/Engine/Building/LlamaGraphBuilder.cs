using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Expresses a Llama-shaped decoder (Llama, Qwen2 with q/k/v biases, Qwen3 with per-head q/k RMSNorm) as an
/// ONNX graph: pre-norm RMSNorm layers, rotary attention and a SwiGLU MLP. With standard attention every operator is
/// opset 17's; with GroupQueryAttention the layers are fused (<see cref="DecoderGraph.Fused"/>): per layer one packed
/// q/k/v MatMul, attention with rotary inside, o_proj, two SkipSimplifiedLayerNormalization (residual add + the next
/// norm) and the MLP — about a dozen kernels instead of some fifty.
/// </summary>
internal sealed class LlamaGraphBuilder
{
    private readonly LlamaConfig _c;
    private readonly DecoderGraph _d;
    private readonly GraphBuilder _g;

    private LlamaGraphBuilder(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype, AttentionKernel attention)
    {
        _c = config;
        _d = new DecoderGraph(config, weights, dtype, attention);
        _g = _d.G;
    }

    public static OnnxGraph Build(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype, AttentionKernel attention) =>
        new LlamaGraphBuilder(config, weights, dtype, attention).Build();

    private OnnxGraph Build()
    {
        var hidden = _d.Embed(LlamaWeightNames.Embedding);
        var normed = _d.RmsNorm(hidden, LlamaWeightNames.Layer(0, "input_layernorm"));
        for (var layer = 0; layer < _c.NumLayers; layer++)
        {
            (normed, hidden) = _d.AddRmsNorm(hidden, Attention(layer, normed), LlamaWeightNames.Layer(layer, "post_attention_layernorm"));
            var next = layer + 1 < _c.NumLayers ? LlamaWeightNames.Layer(layer + 1, "input_layernorm") : LlamaWeightNames.FinalNorm;
            (normed, hidden) = _d.AddRmsNorm(hidden, Mlp(layer, normed), next);
        }

        hidden = normed;
        if (_c.ClassifiesSequences)
        {
            return _d.FinishScore(hidden, LlamaWeightNames.Score);
        }

        return _d.Finish(hidden, _c.TieWordEmbeddings ? LlamaWeightNames.Embedding : LlamaWeightNames.LmHead);
    }

    private string Attention(int layer, string x)
    {
        var context = _d.Fused ? FusedAttention(layer, x) : UnfusedAttention(layer, x);
        return _d.Linear(context, LlamaWeightNames.Layer(layer, "self_attn.o_proj"));
    }

    /// <summary>One MatMul for q, k and v (and one bias Add for Qwen2), handed to GroupQueryAttention packed. Qwen3's
    /// per-head q/k norms sit between projection and rotary, so there the packed output is split, q and k are
    /// normalized per head ([b, s, heads, d] views, no transposes) and the three go in separately.</summary>
    private string FusedAttention(int layer, string x)
    {
        string[] Parts(Func<string, string> name) => [name("self_attn.q_proj"), name("self_attn.k_proj"), name("self_attn.v_proj")];
        var qkv = _d.PackedLinear(x, $"model.layers.{layer}.self_attn.qkv_proj", Parts(p => LlamaWeightNames.Layer(layer, p)),
            _c.QkvBias ? Parts(p => LlamaWeightNames.LayerBias(layer, p)) : null);
        if (!_c.QkNorm)
        {
            return _d.AttendRotary(layer, qkv);
        }

        var (qWidth, kvWidth) = (_c.NumHeads * _c.HeadDim, _c.NumKvHeads * _c.HeadDim);
        var split = _g.OpN("Split", [qkv, _g.Int64s(qWidth, kvWidth, kvWidth)], 3, new OnnxAttribute("axis", Int: -1));
        string PerHeadNorm(string t, int heads, string name) =>
            _g.Op("Reshape", _d.RmsNorm(_g.Op("Reshape", t, _g.Int64s(0, 0, heads, _c.HeadDim)), LlamaWeightNames.Layer(layer, name)), _g.Int64s(0, 0, heads * _c.HeadDim));

        return _d.AttendRotary(layer, PerHeadNorm(split[0], _c.NumHeads, "self_attn.q_norm"), PerHeadNorm(split[1], _c.NumKvHeads, "self_attn.k_norm"), split[2]);
    }

    private string UnfusedAttention(int layer, string x)
    {
        var q = _d.Heads(Projection(layer, "q_proj", x), _c.NumHeads);
        var k = _d.Heads(Projection(layer, "k_proj", x), _c.NumKvHeads);
        var v = _d.Heads(Projection(layer, "v_proj", x), _c.NumKvHeads);
        if (_c.QkNorm)
        {
            q = _d.RmsNorm(q, LlamaWeightNames.Layer(layer, "self_attn.q_norm"));
            k = _d.RmsNorm(k, LlamaWeightNames.Layer(layer, "self_attn.k_norm"));
        }

        return _d.Attend(layer, _d.Rotate(q), _d.Rotate(k), v);
    }

    private string Projection(int layer, string name, string x) =>
        _d.Linear(x, LlamaWeightNames.Layer(layer, $"self_attn.{name}"), _c.QkvBias ? LlamaWeightNames.LayerBias(layer, $"self_attn.{name}") : null);

    private string Mlp(int layer, string x)
    {
        var gate = _d.Linear(x, LlamaWeightNames.Layer(layer, "mlp.gate_proj"));
        var up = _d.Linear(x, LlamaWeightNames.Layer(layer, "mlp.up_proj"));
        var activated = _g.Op("Mul", _g.Op("Mul", gate, _g.Op("Sigmoid", gate)), up);
        return _d.Linear(activated, LlamaWeightNames.Layer(layer, "mlp.down_proj"));
    }
}

using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Expresses a Llama-shaped decoder (Llama, Qwen2 with q/k/v biases, Qwen3 with per-head q/k RMSNorm) as an
/// opset-17 ONNX graph of standard operators: pre-norm RMSNorm layers, rotary attention and a SwiGLU MLP.
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
        for (var layer = 0; layer < _c.NumLayers; layer++)
        {
            var normed = _d.RmsNorm(hidden, LlamaWeightNames.Layer(layer, "input_layernorm"));
            hidden = _g.Op("Add", hidden, Attention(layer, normed));
            normed = _d.RmsNorm(hidden, LlamaWeightNames.Layer(layer, "post_attention_layernorm"));
            hidden = _g.Op("Add", hidden, Mlp(layer, normed));
        }

        hidden = _d.RmsNorm(hidden, LlamaWeightNames.FinalNorm);
        if (_c.ClassifiesSequences)
        {
            return _d.FinishScore(hidden, LlamaWeightNames.Score);
        }

        return _d.Finish(hidden, _c.TieWordEmbeddings ? LlamaWeightNames.Embedding : LlamaWeightNames.LmHead);
    }

    private string Attention(int layer, string x)
    {
        var q = _d.Heads(Projection(layer, "q_proj", x), _c.NumHeads);
        var k = _d.Heads(Projection(layer, "k_proj", x), _c.NumKvHeads);
        var v = _d.Heads(Projection(layer, "v_proj", x), _c.NumKvHeads);
        if (_c.QkNorm)
        {
            q = _d.RmsNorm(q, LlamaWeightNames.Layer(layer, "self_attn.q_norm"));
            k = _d.RmsNorm(k, LlamaWeightNames.Layer(layer, "self_attn.k_norm"));
        }

        var context = _d.Attend(layer, _d.Rotate(q), _d.Rotate(k), v);
        return _d.Linear(context, LlamaWeightNames.Layer(layer, "self_attn.o_proj"));
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

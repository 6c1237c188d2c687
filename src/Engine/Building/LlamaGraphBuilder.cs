using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Expresses a Llama decoder as an opset-17 ONNX graph of standard operators with the Optimum
/// text-generation-with-past interface: inputs <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>,
/// <c>past_key_values.{i}.key|value</c>; outputs <c>logits</c> (fp32) and <c>present.{i}.key|value</c>
/// ([batch, kv_heads, seq, head_dim]). Projection weights are stored transposed for MatMul; the lm_head
/// (tied or not) is applied with Gemm transB so the [vocab, hidden] matrix is never copied.
/// </summary>
internal sealed class LlamaGraphBuilder
{
    public const int Opset = 17;

    private readonly LlamaConfig _c;
    private readonly ILlamaWeights _weights;
    private readonly OnnxDataType _dtype;
    private readonly GraphBuilder _g = new("llama");

    private LlamaGraphBuilder(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype)
    {
        _c = config;
        _weights = weights;
        _dtype = dtype;
    }

    public static OnnxGraph Build(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype) =>
        new LlamaGraphBuilder(config, weights, dtype).Build();

    private OnnxGraph Build()
    {
        var graph = _g.Graph;
        graph.Inputs.Add(new OnnxValueInfo("input_ids", OnnxDataType.Int64, ["batch_size", "sequence_length"]));
        graph.Inputs.Add(new OnnxValueInfo("attention_mask", OnnxDataType.Int64, ["batch_size", "total_sequence_length"]));
        graph.Inputs.Add(new OnnxValueInfo("position_ids", OnnxDataType.Int64, ["batch_size", "sequence_length"]));
        for (var i = 0; i < _c.NumLayers; i++)
        {
            foreach (var kind in new[] { "key", "value" })
            {
                graph.Inputs.Add(new OnnxValueInfo($"past_key_values.{i}.{kind}", _dtype, ["batch_size", (long)_c.NumKvHeads, "past_sequence_length", (long)_c.HeadDim]));
            }
        }

        var allowed = AttentionMask();
        var (cos, sin) = RotaryTables();
        var hidden = _g.Op("Gather", [Weight(LlamaWeightNames.Embedding, transpose: false), "input_ids"], new OnnxAttribute("axis", Int: 0));
        for (var layer = 0; layer < _c.NumLayers; layer++)
        {
            var normed = RmsNorm(hidden, LlamaWeightNames.Layer(layer, "input_layernorm"));
            hidden = _g.Op("Add", hidden, Attention(layer, normed, allowed, cos, sin));
            normed = RmsNorm(hidden, LlamaWeightNames.Layer(layer, "post_attention_layernorm"));
            hidden = _g.Op("Add", hidden, Mlp(layer, normed));
        }

        hidden = RmsNorm(hidden, LlamaWeightNames.FinalNorm);
        var head = Weight(_c.TieWordEmbeddings ? LlamaWeightNames.Embedding : LlamaWeightNames.LmHead, transpose: false);
        var flat = _g.Op("Reshape", hidden, _g.Int64s(-1, _c.HiddenSize));
        var logits = _g.Op("Gemm", [flat, head], new OnnxAttribute("transB", Int: 1));
        var batchAndSeq = _g.Op("Shape", ["input_ids"]);
        logits = _g.Op("Reshape", logits, _g.Op("Concat", [batchAndSeq, _g.Int64s(_c.VocabSize)], new OnnxAttribute("axis", Int: 0)));
        if (_dtype != OnnxDataType.Float)
        {
            logits = _g.Op("Cast", [logits], new OnnxAttribute("to", Int: (long)OnnxDataType.Float));
        }

        _g.Identity(logits, "logits");
        graph.Outputs.Add(new OnnxValueInfo("logits", OnnxDataType.Float, ["batch_size", "sequence_length", (long)_c.VocabSize]));
        return graph;
    }

    /// <summary>[batch, 1, seq, total] booleans: key j is visible to query i when it is not padding and
    /// j ≤ past + i (causal), where past = total − seq.</summary>
    private string AttentionMask()
    {
        var seq = _g.Op("Shape", ["input_ids"], new OnnxAttribute("start", Int: 1), new OnnxAttribute("end", Int: 2));
        var total = _g.Op("Shape", ["attention_mask"], new OnnxAttribute("start", Int: 1), new OnnxAttribute("end", Int: 2));
        var past = _g.Op("Sub", total, seq);
        var zero = _g.Int64Scalar(0);
        var one = _g.Int64Scalar(1);
        var totalScalar = _g.Op("Squeeze", total, _g.Int64s(0));
        var pastScalar = _g.Op("Squeeze", past, _g.Int64s(0));
        var keys = _g.Op("Unsqueeze", _g.Op("Range", zero, totalScalar, one), _g.Int64s(0));
        var queries = _g.Op("Unsqueeze", _g.Op("Range", pastScalar, totalScalar, one), _g.Int64s(1));
        var causal = _g.Op("LessOrEqual", keys, queries);
        var notPadding = _g.Op("Unsqueeze", _g.Op("Cast", ["attention_mask"], new OnnxAttribute("to", Int: (long)OnnxDataType.Bool)), _g.Int64s(1, 2));
        return _g.Op("And", causal, notPadding);
    }

    /// <summary>cos/sin of position × inverse frequency, [batch, 1, seq, head_dim] (the two halves repeat, as in
    /// Hugging Face's rotate_half convention).</summary>
    private (string Cos, string Sin) RotaryTables()
    {
        var inverse = RopeScaling.InverseFrequencies(_c.HeadDim, _c.RopeTheta, _c.RopeScaling);
        var frequencies = _g.Floats("rope_inv_freq", inverse, [inverse.Length]);
        var positions = _g.Op("Unsqueeze", _g.Op("Cast", ["position_ids"], new OnnxAttribute("to", Int: (long)OnnxDataType.Float)), _g.Int64s(2));
        var angles = _g.Op("Mul", positions, frequencies);
        var full = _g.Op("Unsqueeze", _g.Op("Concat", [angles, angles], new OnnxAttribute("axis", Int: -1)), _g.Int64s(1));
        return (ToModelType(_g.Op("Cos", full)), ToModelType(_g.Op("Sin", full)));
    }

    private string Attention(int layer, string x, string allowed, string cos, string sin)
    {
        var q = Heads(_g.Op("MatMul", x, Weight(LlamaWeightNames.Layer(layer, "self_attn.q_proj"))), _c.NumHeads);
        var k = Heads(_g.Op("MatMul", x, Weight(LlamaWeightNames.Layer(layer, "self_attn.k_proj"))), _c.NumKvHeads);
        var v = Heads(_g.Op("MatMul", x, Weight(LlamaWeightNames.Layer(layer, "self_attn.v_proj"))), _c.NumKvHeads);
        q = Rotate(q, cos, sin);
        k = Rotate(k, cos, sin);
        var presentKey = $"present.{layer}.key";
        var presentValue = $"present.{layer}.value";
        _g.Graph.Nodes.Add(new OnnxNode("Concat", $"concat_past_key_{layer}", [$"past_key_values.{layer}.key", k], [presentKey], [new OnnxAttribute("axis", Int: 2)]));
        _g.Graph.Nodes.Add(new OnnxNode("Concat", $"concat_past_value_{layer}", [$"past_key_values.{layer}.value", v], [presentValue], [new OnnxAttribute("axis", Int: 2)]));
        foreach (var name in new[] { presentKey, presentValue })
        {
            _g.Graph.Outputs.Add(new OnnxValueInfo(name, _dtype, ["batch_size", (long)_c.NumKvHeads, "total_sequence_length", (long)_c.HeadDim]));
        }

        var keys = RepeatKv(presentKey);
        var values = RepeatKv(presentValue);
        var scaledQ = _g.Op("Mul", q, _g.Scalar((float)(1 / Math.Sqrt(_c.HeadDim)), _dtype));
        var scores = _g.Op("MatMul", scaledQ, _g.Op("Transpose", [keys], new OnnxAttribute("perm", Ints: [0, 1, 3, 2])));
        var floor = _g.Scalar(_dtype == OnnxDataType.Float16 ? -65504f : float.MinValue, _dtype);
        var probs = _g.Op("Softmax", [_g.Op("Where", allowed, scores, floor)], new OnnxAttribute("axis", Int: -1));
        var context = _g.Op("Transpose", [_g.Op("MatMul", probs, values)], new OnnxAttribute("perm", Ints: [0, 2, 1, 3]));
        context = _g.Op("Reshape", context, _g.Int64s(0, 0, _c.NumHeads * _c.HeadDim));
        return _g.Op("MatMul", context, Weight(LlamaWeightNames.Layer(layer, "self_attn.o_proj")));
    }

    /// <summary>[b, s, heads·d] → [b, heads, s, d].</summary>
    private string Heads(string x, int heads) =>
        _g.Op("Transpose", [_g.Op("Reshape", x, _g.Int64s(0, 0, heads, _c.HeadDim))], new OnnxAttribute("perm", Ints: [0, 2, 1, 3]));

    private string Rotate(string x, string cos, string sin)
    {
        var half = _c.HeadDim / 2;
        var axis = _g.Int64s(3);
        var first = _g.Op("Slice", x, _g.Int64s(0), _g.Int64s(half), axis);
        var second = _g.Op("Slice", x, _g.Int64s(half), _g.Int64s(_c.HeadDim), axis);
        var rotated = _g.Op("Concat", [_g.Op("Neg", second), first], new OnnxAttribute("axis", Int: 3));
        return _g.Op("Add", _g.Op("Mul", x, cos), _g.Op("Mul", rotated, sin));
    }

    /// <summary>Grouped-query attention: each kv head serves heads/kv_heads query heads.</summary>
    private string RepeatKv(string kv)
    {
        var groups = _c.NumHeads / _c.NumKvHeads;
        if (groups == 1)
        {
            return kv;
        }

        var expanded = _g.Op("Expand", _g.Op("Unsqueeze", kv, _g.Int64s(2)), _g.Int64s(1, 1, groups, 1, 1));
        return _g.Op("Reshape", expanded, _g.Int64s(0, _c.NumHeads, -1, _c.HeadDim));
    }

    private string Mlp(int layer, string x)
    {
        var gate = _g.Op("MatMul", x, Weight(LlamaWeightNames.Layer(layer, "mlp.gate_proj")));
        var up = _g.Op("MatMul", x, Weight(LlamaWeightNames.Layer(layer, "mlp.up_proj")));
        var activated = _g.Op("Mul", _g.Op("Mul", gate, _g.Op("Sigmoid", gate)), up);
        return _g.Op("MatMul", activated, Weight(LlamaWeightNames.Layer(layer, "mlp.down_proj")));
    }

    /// <summary>Normalizes in fp32 whatever the model type, then scales by the weight (as Hugging Face does).</summary>
    private string RmsNorm(string x, string weightName)
    {
        var xf = _dtype == OnnxDataType.Float ? x : _g.Op("Cast", [x], new OnnxAttribute("to", Int: (long)OnnxDataType.Float));
        var variance = _g.Op("ReduceMean", [_g.Op("Mul", xf, xf)], new OnnxAttribute("axes", Ints: [-1]), new OnnxAttribute("keepdims", Int: 1));
        var inverse = _g.Op("Reciprocal", _g.Op("Sqrt", _g.Op("Add", variance, _g.Scalar((float)_c.RmsNormEps, OnnxDataType.Float))));
        return _g.Op("Mul", ToModelType(_g.Op("Mul", xf, inverse)), Weight(weightName, transpose: false));
    }

    private string ToModelType(string x) =>
        _dtype == OnnxDataType.Float ? x : _g.Op("Cast", [x], new OnnxAttribute("to", Int: (long)_dtype));

    /// <summary>Registers a weight whose bytes are read from the checkpoint only when the file is written;
    /// projections are transposed to [in, out].</summary>
    private string Weight(string name, bool transpose = true)
    {
        if (_g.Graph.Initializers.Any(i => i.Name == name))
        {
            return name;
        }

        if (!_weights.Contains(name))
        {
            throw new ModelFormatException(name, "weight missing from the checkpoint");
        }

        var expected = LlamaWeightNames.All(_c).First(x => x.Name == name).Shape;
        var dims = transpose ? [expected[1], expected[0]] : expected;
        _g.Initializer(new OnnxInitializer(name, _dtype, dims, stream =>
        {
            var data = _weights.Read(name, out var shape);
            if (!shape.SequenceEqual(expected))
            {
                throw new ModelFormatException(name, $"shape [{string.Join(", ", shape)}] does not match config.json, which implies [{string.Join(", ", expected)}]");
            }

            GraphBuilder.WriteValues(stream, transpose ? Transpose(data, (int)expected[0], (int)expected[1]) : data, _dtype);
        }));
        return name;
    }

    private static float[] Transpose(float[] data, int rows, int cols)
    {
        var result = new float[data.Length];
        Parallel.For(0, rows, r =>
        {
            for (var c = 0; c < cols; c++)
            {
                result[(long)c * rows + r] = data[(long)r * cols + c];
            }
        });
        return result;
    }
}

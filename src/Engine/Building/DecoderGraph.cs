using Distil.Engine.Model;
using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// The parts every decoder graph the builder writes shares: the Optimum text-generation-with-past interface
/// (inputs <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>, <c>past_key_values.{i}.key|value</c>;
/// outputs <c>logits</c> (fp32) and <c>present.{i}.key|value</c>, [batch, kv_heads, seq, head_dim]), the causal
/// padding mask, rotary tables, cached attention, norms and the lm_head. Projection weights are stored transposed
/// for MatMul; the lm_head (tied or not) is applied with FusedMatMul transB so the [vocab, hidden] matrix is never copied,
/// and an optional input (<see cref="LogitsSelection.Input"/>) limits the logits to one position per row.
/// A sequence classifier (<see cref="LlamaConfig.ClassifiesSequences"/>) has the sequence-classification interface
/// instead: no past or present key/values, and <c>logits</c> [batch, num_labels] from the score head at each row's
/// last real token.
/// </summary>
internal sealed class DecoderGraph
{
    public const int Opset = 17;

    /// <summary>The most positions the fused graph's rotary tables hold (256 Ki rows), so that a model claiming a
    /// multi-million-token context does not carry gigabytes of tables.</summary>
    public const int MaxRotaryPositions = 1 << 18;

    private readonly LlamaConfig _c;
    private readonly ILlamaWeights _weights;
    private readonly Dictionary<string, long[]> _shapes;

    public DecoderGraph(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype, AttentionKernel attention)
    {
        _c = config;
        _weights = weights;
        _shapes = LlamaWeightNames.All(config).ToDictionary(x => x.Name, x => x.Shape);
        DataType = dtype;
        // ONNX Runtime's GroupQueryAttention refuses head sizes that are not a multiple of 8; a classifier has no cache for it.
        var groupQuery = attention != AttentionKernel.Standard && config.HeadDim % 8 == 0 && !config.ClassifiesSequences;
        Kernel = groupQuery ? AttentionKernel.GroupQuery : AttentionKernel.Standard;
        // Its rotary tables must be a multiple of 8 wide (head_dim / 2), so rotary moves inside only then.
        Fused = groupQuery && attention == AttentionKernel.GroupQuery && config.HeadDim % 16 == 0;
        G = new GraphBuilder(config.Architecture.ModelType());
        AddInputs();
        if (Kernel == AttentionKernel.GroupQuery)
        {
            (SeqlensK, TotalLength) = RowLengths();
        }
        else
        {
            Allowed = AttentionMask();
        }
    }

    /// <summary>The attention operator: <see cref="AttentionKernel.GroupQuery"/> or <see cref="AttentionKernel.Standard"/>.</summary>
    public AttentionKernel Kernel { get; }

    /// <summary>Whether the layers are written with ONNX Runtime's fused operators: rotary inside GroupQueryAttention
    /// (<see cref="AttendRotary"/>), one packed q/k/v projection (<see cref="PackedLinear"/>), RMSNorm as
    /// SimplifiedLayerNormalization and the residual add with the next norm as SkipSimplifiedLayerNormalization.
    /// The Llama builder uses these parts; Falcon's layers keep the unfused ones.</summary>
    public bool Fused { get; }

    public GraphBuilder G { get; }

    public OnnxDataType DataType { get; }

    /// <summary>[batch, 1, seq, total] booleans: key j is visible to query i when it is not padding and
    /// j ≤ past + i (causal), where past = total − seq.</summary>
    public string? Allowed { get; }

    /// <summary>GroupQueryAttention's per-row lengths: sum(attention_mask) − 1 as int32 [batch], and the mask's
    /// width as an int32 scalar (rows start at column 0).</summary>
    private string? SeqlensK { get; }

    private string? TotalLength { get; }

    /// <summary>cos/sin of position × inverse frequency, [batch, 1, seq, head_dim] (the two halves repeat, as in
    /// Hugging Face's rotate_half convention), computed from <c>position_ids</c> the first time a layer rotates.</summary>
    private (string Cos, string Sin)? _rotary;

    /// <summary>GroupQueryAttention's cos_cache and sin_cache initializers, written the first time a layer asks.</summary>
    private (string Cos, string Sin)? _rotaryCaches;

    public string Embed(string tableName) => G.Op("Gather", [Weight(tableName, transpose: false), "input_ids"], new OnnxAttribute("axis", Int: 0));

    /// <summary>Names the logits output: hidden [b, s, h] times the [vocab, hidden] head, in fp32, written by the head's
    /// own kernel straight into the output (a Reshape after a 2-D Gemm made ONNX Runtime copy all [b, s, vocab] logits
    /// into the graph output: 6.8 ms per decode step at batch 32 with a 100k vocabulary). Only the positions
    /// <see cref="SelectedPositions"/> selects are computed.</summary>
    public OnnxGraph Finish(string hidden, string headName)
    {
        var head = Weight(headName, transpose: false);
        var selected = SelectedPositions(hidden);
        var output = DataType == OnnxDataType.Float ? "logits" : "head_logits";
        if (DataType == OnnxDataType.Float)
        {
            // FusedMatMul takes the 3-D states and the [vocab, hidden] matrix as stored (transB), so neither is copied.
            G.Graph.Nodes.Add(new OnnxNode("FusedMatMul", "lm_head", [selected, head], [output], [new OnnxAttribute("transB", Int: 1)], "com.microsoft"));
        }
        else
        {
            // ONNX Runtime's CPU FusedMatMul is fp32 only; fp16 keeps Gemm, whose Reshape is then no output (the Cast is).
            var flat = G.Op("Reshape", selected, G.Int64s(-1, _c.HiddenSize));
            var product = G.Op("Gemm", [flat, head], new OnnxAttribute("transB", Int: 1));
            var rows = G.Op("Shape", [selected], new OnnxAttribute("end", Int: 2));
            G.Graph.Nodes.Add(new OnnxNode("Reshape", "lm_head_shape", [product, G.Op("Concat", [rows, G.Int64s(_c.VocabSize)], new OnnxAttribute("axis", Int: 0))], [output], []));
            G.Graph.Nodes.Add(new OnnxNode("Cast", "lm_head_cast", [output], ["logits"], [new OnnxAttribute("to", Int: (long)OnnxDataType.Float)]));
        }

        G.Graph.Outputs.Add(new OnnxValueInfo("logits", OnnxDataType.Float, ["batch_size", "sequence_length", (long)_c.VocabSize]));
        return G.Graph;
    }

    /// <summary>hidden [b, s, h] at the columns <see cref="LogitsSelection.Input"/> selects, [b, 1, h]; every column,
    /// [b, s, h], when it is left at its empty default.</summary>
    private string SelectedPositions(string hidden)
    {
        var name = LogitsSelection.Input;
        G.Graph.Inputs.Add(new OnnxValueInfo(name, OnnxDataType.Int64, ["batch_size"]));
        G.Initializer(new OnnxInitializer(name, OnnxDataType.Int64, [0], _ => { }));
        var batch = G.Op("Shape", ["input_ids"], new OnnxAttribute("end", Int: 1));
        var seq = G.Op("Shape", ["input_ids"], new OnnxAttribute("start", Int: 1), new OnnxAttribute("end", Int: 2));
        // fed: 1 position per row; default: 0.
        var fed = G.Op("Div", G.Op("Size", name), G.Op("Squeeze", batch, G.Int64s(0)));
        var fedDim = G.Op("Unsqueeze", fed, G.Int64s(0));
        // allowzero: the default's [b, 0] means zero columns, not "copy the input's dimension".
        var chosen = G.Op("Reshape", [name, G.Op("Concat", [batch, fedDim], new OnnxAttribute("axis", Int: 0))], new OnnxAttribute("allowzero", Int: 1));
        var every = G.Op("Expand", G.Op("Unsqueeze", G.Op("Range", G.Int64Scalar(0), G.Op("Squeeze", seq, G.Int64s(0)), G.Int64Scalar(1)), G.Int64s(0)), G.Op("Concat", [batch, seq], new OnnxAttribute("axis", Int: 0)));
        // [every | chosen] is [b, s + fed]: keep columns [fed·s, s + fed), every position or the chosen one.
        var columns = G.Op("Slice", G.Op("Concat", [every, chosen], new OnnxAttribute("axis", Int: 1)), G.Op("Mul", fedDim, seq), G.Op("Add", seq, fedDim), G.Int64s(1));
        return G.Op("GatherND", [hidden, G.Op("Unsqueeze", columns, G.Int64s(2))], new OnnxAttribute("batch_dims", Int: 1));
    }

    /// <summary>Names a sequence classifier's logits, [batch, num_labels] in fp32: the score head applied to each
    /// row's last real token, the last column the attention mask keeps (so right and left padding read alike).</summary>
    public OnnxGraph FinishScore(string hidden, string headName)
    {
        var labels = (long)_c.NumLabels!.Value;
        var width = G.Op("Squeeze", G.Op("Shape", ["attention_mask"], new OnnxAttribute("start", Int: 1), new OnnxAttribute("end", Int: 2)), G.Int64s(0));
        var columns = G.Op("Range", G.Int64Scalar(0), width, G.Int64Scalar(1));
        // ArgMax has no int64 kernel in ONNX Runtime; column numbers are exact in fp32 far beyond any context.
        var kept = G.Op("Cast", [G.Op("Mul", "attention_mask", columns)], new OnnxAttribute("to", Int: (long)OnnxDataType.Float));
        var last = G.Op("ArgMax", [kept], new OnnxAttribute("axis", Int: 1), new OnnxAttribute("keepdims", Int: 1));
        var pooled = G.Op("GatherND", [hidden, last], new OnnxAttribute("batch_dims", Int: 1));
        var logits = Linear(pooled, headName);
        if (DataType != OnnxDataType.Float)
        {
            logits = G.Op("Cast", [logits], new OnnxAttribute("to", Int: (long)OnnxDataType.Float));
        }

        G.Identity(logits, "logits");
        G.Graph.Outputs.Add(new OnnxValueInfo("logits", OnnxDataType.Float, ["batch_size", labels]));
        return G.Graph;
    }

    /// <summary>x W (+ b) with W registered transposed to [in, out].</summary>
    public string Linear(string x, string weightName, string? biasName = null)
    {
        var y = G.Op("MatMul", x, Weight(weightName));
        return biasName is null ? y : G.Op("Add", y, Weight(biasName, transpose: false));
    }

    /// <summary>[b, s, heads·d] → [b, heads, s, d].</summary>
    public string Heads(string x, int heads) =>
        G.Op("Transpose", [G.Op("Reshape", x, G.Int64s(0, 0, heads, _c.HeadDim))], new OnnxAttribute("perm", Ints: [0, 2, 1, 3]));

    public string Rotate(string x)
    {
        var half = _c.HeadDim / 2;
        var axis = G.Int64s(3);
        var first = G.Op("Slice", x, G.Int64s(0), G.Int64s(half), axis);
        var second = G.Op("Slice", x, G.Int64s(half), G.Int64s(_c.HeadDim), axis);
        var rotated = G.Op("Concat", [G.Op("Neg", second), first], new OnnxAttribute("axis", Int: 3));
        var (cos, sin) = _rotary ??= RotaryTables();
        return G.Op("Add", G.Op("Mul", x, cos), G.Op("Mul", rotated, sin));
    }

    /// <summary>Appends this step's k and v ([b, kv_heads, s, d], rotated) to the layer's cache, emits the present
    /// outputs and returns softmax(q kᵀ/√d) v as [b, s, heads·d]; a classifier attends over this call's k and v only.</summary>
    public string Attend(int layer, string q, string k, string v)
    {
        if (_c.ClassifiesSequences)
        {
            return Attention(q, RepeatKv(k), RepeatKv(v));
        }

        var (presentKey, presentValue) = Presents(layer);
        if (Kernel == AttentionKernel.GroupQuery)
        {
            return GroupQueryAttend(layer, q, k, v, presentKey, presentValue);
        }

        G.Graph.Nodes.Add(new OnnxNode("Concat", $"concat_past_key_{layer}", [$"past_key_values.{layer}.key", k], [presentKey], [new OnnxAttribute("axis", Int: 2)]));
        G.Graph.Nodes.Add(new OnnxNode("Concat", $"concat_past_value_{layer}", [$"past_key_values.{layer}.value", v], [presentValue], [new OnnxAttribute("axis", Int: 2)]));
        return Attention(q, RepeatKv(presentKey), RepeatKv(presentValue));
    }

    /// <summary>Declares layer <paramref name="layer"/>'s present key and value outputs.</summary>
    private (string Key, string Value) Presents(int layer)
    {
        var presentKey = $"present.{layer}.key";
        var presentValue = $"present.{layer}.value";
        foreach (var name in new[] { presentKey, presentValue })
        {
            G.Graph.Outputs.Add(new OnnxValueInfo(name, DataType, ["batch_size", (long)_c.NumKvHeads, "total_sequence_length", (long)_c.HeadDim]));
        }

        return (presentKey, presentValue);
    }

    /// <summary>softmax(q kᵀ/√d) v over the allowed keys, as [b, s, heads·d].</summary>
    private string Attention(string q, string keys, string values)
    {
        var scaledQ = G.Op("Mul", q, G.Scalar((float)(1 / Math.Sqrt(_c.HeadDim)), DataType));
        var scores = G.Op("MatMul", scaledQ, G.Op("Transpose", [keys], new OnnxAttribute("perm", Ints: [0, 1, 3, 2])));
        var floor = G.Scalar(DataType == OnnxDataType.Float16 ? -65504f : float.MinValue, DataType);
        var probs = G.Op("Softmax", [G.Op("Where", Allowed!, scores, floor)], new OnnxAttribute("axis", Int: -1));
        var context = G.Op("Transpose", [G.Op("MatMul", probs, values)], new OnnxAttribute("perm", Ints: [0, 2, 1, 3]));
        return G.Op("Reshape", context, G.Int64s(0, 0, _c.NumHeads * _c.HeadDim));
    }

    /// <summary>The same attention through com.microsoft GroupQueryAttention: q, k, v go back to [b, s, heads·d]; the
    /// op appends k and v to each row's cache at that row's own length and attends over exactly those tokens.</summary>
    private string GroupQueryAttend(int layer, string q, string k, string v, string presentKey, string presentValue)
    {
        string Flat(string x, int heads) =>
            G.Op("Reshape", G.Op("Transpose", [x], new OnnxAttribute("perm", Ints: [0, 2, 1, 3])), G.Int64s(0, 0, heads * _c.HeadDim));

        return GroupQueryNode(layer, [Flat(q, _c.NumHeads), Flat(k, _c.NumKvHeads), Flat(v, _c.NumKvHeads)], presentKey, presentValue, rotary: false);
    }

    /// <summary>
    /// Fused attention: q, k and v as the projections give them ([b, s, heads·d] each, not yet rotated), or one packed
    /// [b, s, (heads + 2·kv_heads)·d] tensor as <paramref name="qkv"/> with <paramref name="k"/> and
    /// <paramref name="v"/> null. GroupQueryAttention rotates q and k itself from cos/sin tables indexed by position,
    /// and takes each row's positions from its length, not from <c>position_ids</c>: the first prompt's columns are
    /// positions 0…, a later token sits at its row's length − 1. That is the engine's left-aligned layout, where
    /// column and position coincide; <c>position_ids</c> stays an input (unread) so that every peer still feeds
    /// the graph as it would any Optimum export.
    /// </summary>
    public string AttendRotary(int layer, string qkv, string? k = null, string? v = null)
    {
        var (presentKey, presentValue) = Presents(layer);
        return GroupQueryNode(layer, [qkv, k ?? "", v ?? ""], presentKey, presentValue, rotary: true);
    }

    private string GroupQueryNode(int layer, string[] qkv, string presentKey, string presentValue, bool rotary)
    {
        var inputs = new List<string>(qkv) { $"past_key_values.{layer}.key", $"past_key_values.{layer}.value", SeqlensK!, TotalLength! };
        var attributes = new List<OnnxAttribute> { new("num_heads", Int: _c.NumHeads), new("kv_num_heads", Int: _c.NumKvHeads) };
        if (rotary)
        {
            var (cos, sin) = _rotaryCaches ??= RotaryCaches();
            inputs.AddRange([cos, sin]);
            attributes.AddRange([new("do_rotary", Int: 1), new("rotary_interleaved", Int: 0)]);
        }

        var context = $"gqa_out_{layer}";
        G.Graph.Nodes.Add(new OnnxNode("GroupQueryAttention", $"gqa_{layer}", [.. inputs], [context, presentKey, presentValue], [.. attributes], "com.microsoft"));
        return context;
    }

    /// <summary>Normalizes over the last axis in fp32 whatever the model type, then scales by the weight (as Hugging
    /// Face does); works on [b, s, hidden] and on per-head [b, heads, s, d] alike.</summary>
    public string RmsNorm(string x, string weightName)
    {
        if (Fused)
        {
            // ONNX Runtime's own op (default domain): one kernel, statistics in fp32 (stash_type) whatever the type.
            return G.Op("SimplifiedLayerNormalization", [x, Weight(weightName, transpose: false)], NormAttributes);
        }

        var xf = DataType == OnnxDataType.Float ? x : G.Op("Cast", [x], new OnnxAttribute("to", Int: (long)OnnxDataType.Float));
        var variance = G.Op("ReduceMean", [G.Op("Mul", xf, xf)], new OnnxAttribute("axes", Ints: [-1]), new OnnxAttribute("keepdims", Int: 1));
        var inverse = G.Op("Reciprocal", G.Op("Sqrt", G.Op("Add", variance, G.Scalar((float)_c.RmsNormEps, OnnxDataType.Float))));
        return G.Op("Mul", ToModelType(G.Op("Mul", xf, inverse)), Weight(weightName, transpose: false));
    }

    /// <summary>The residual stream plus a sublayer's output, and that sum RMS-normalized with
    /// <paramref name="weightName"/> (the next sublayer's input). Fused, both come from one
    /// com.microsoft SkipSimplifiedLayerNormalization: output 0 is the norm, output 3 the sum.</summary>
    public (string Normed, string Sum) AddRmsNorm(string residual, string x, string weightName)
    {
        if (!Fused)
        {
            var sum = G.Op("Add", residual, x);
            return (RmsNorm(sum, weightName), sum);
        }

        var name = $"skip_norm_{G.Graph.Nodes.Count}";
        var (normed, total) = ($"{name}_out", $"{name}_sum");
        G.Graph.Nodes.Add(new OnnxNode("SkipSimplifiedLayerNormalization", name, [x, residual, Weight(weightName, transpose: false)], [normed, "", "", total], [new OnnxAttribute("epsilon", Float: (float)_c.RmsNormEps)], "com.microsoft"));
        return (normed, total);
    }

    private OnnxAttribute[] NormAttributes => [new("axis", Int: -1), new("epsilon", Float: (float)_c.RmsNormEps), new("stash_type", Int: 1)];

    /// <summary>LayerNorm with weight and bias over the last axis (opset 17's LayerNormalization).</summary>
    public string LayerNorm(string x, string weightName, string biasName) =>
        G.Op("LayerNormalization", [x, Weight(weightName, transpose: false), Weight(biasName, transpose: false)], new OnnxAttribute("axis", Int: -1), new OnnxAttribute("epsilon", Float: (float)_c.RmsNormEps));

    public string ToModelType(string x) =>
        DataType == OnnxDataType.Float ? x : G.Op("Cast", [x], new OnnxAttribute("to", Int: (long)DataType));

    /// <summary>Registers a weight whose bytes are read from the checkpoint only when the file is written;
    /// projections are transposed to [in, out].</summary>
    public string Weight(string name, bool transpose = true)
    {
        var expected = Expected(name);
        var dims = transpose ? [expected[1], expected[0]] : expected;
        return Register(name, dims, () => transpose ? Transpose(Read(name), (int)expected[0], (int)expected[1]) : Read(name));
    }

    /// <summary>x W (+ b) with one weight for several projections of the same input: <paramref name="weightNames"/>'
    /// [out_i, in] matrices stacked along out (and their biases concatenated) as <paramref name="packedName"/>
    /// [in, Σ out_i]. The parts are read one after another while that one tensor is written.</summary>
    public string PackedLinear(string x, string packedName, string[] weightNames, string[]? biasNames = null)
    {
        var shapes = weightNames.Select(Expected).ToArray();
        var columns = shapes.Sum(s => s[0]);
        var rows = shapes[0][1];
        var weight = Register($"{packedName}.weight", [rows, columns], () => Transpose(Concatenate(weightNames), (int)columns, (int)rows));
        var y = G.Op("MatMul", x, weight);
        return biasNames is null ? y : G.Op("Add", y, Register($"{packedName}.bias", [columns], () => Concatenate(biasNames)));
    }

    private float[] Concatenate(string[] names)
    {
        var parts = names.Select(Read).ToList();
        var result = new float[parts.Sum(p => (long)p.Length)];
        var offset = 0L;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }

        return result;
    }

    private long[] Expected(string name)
    {
        if (!_weights.Contains(name))
        {
            throw new ModelFormatException(_weights.Source, $"tensor '{name}' is missing; config.json ({_c.Architecture.ClassName()}) implies it, shape [{string.Join(", ", _shapes[name])}]");
        }

        return _shapes[name];
    }

    /// <summary>The checkpoint's tensor, checked against the shape config.json implies.</summary>
    private float[] Read(string name)
    {
        var data = _weights.Read(name, out var shape);
        if (!shape.SequenceEqual(_shapes[name]))
        {
            throw new ModelFormatException(_weights.Source, $"tensor '{name}' has shape [{string.Join(", ", shape)}] but config.json implies [{string.Join(", ", _shapes[name])}]");
        }

        return data;
    }

    private string Register(string name, long[] dims, Func<float[]> values)
    {
        if (!G.Graph.Initializers.Any(i => i.Name == name))
        {
            G.Initializer(new OnnxInitializer(name, DataType, dims, stream => GraphBuilder.WriteValues(stream, values(), DataType)));
        }

        return name;
    }

    private void AddInputs()
    {
        var graph = G.Graph;
        graph.Inputs.Add(new OnnxValueInfo("input_ids", OnnxDataType.Int64, ["batch_size", "sequence_length"]));
        graph.Inputs.Add(new OnnxValueInfo("attention_mask", OnnxDataType.Int64, ["batch_size", "total_sequence_length"]));
        graph.Inputs.Add(new OnnxValueInfo("position_ids", OnnxDataType.Int64, ["batch_size", "sequence_length"]));
        for (var i = 0; i < (_c.ClassifiesSequences ? 0 : _c.NumLayers); i++)
        {
            foreach (var kind in new[] { "key", "value" })
            {
                graph.Inputs.Add(new OnnxValueInfo($"past_key_values.{i}.{kind}", DataType, ["batch_size", (long)_c.NumKvHeads, "past_sequence_length", (long)_c.HeadDim]));
            }
        }
    }

    private string AttentionMask()
    {
        var seq = G.Op("Shape", ["input_ids"], new OnnxAttribute("start", Int: 1), new OnnxAttribute("end", Int: 2));
        var total = G.Op("Shape", ["attention_mask"], new OnnxAttribute("start", Int: 1), new OnnxAttribute("end", Int: 2));
        var past = G.Op("Sub", total, seq);
        var zero = G.Int64Scalar(0);
        var one = G.Int64Scalar(1);
        var totalScalar = G.Op("Squeeze", total, G.Int64s(0));
        var pastScalar = G.Op("Squeeze", past, G.Int64s(0));
        var keys = G.Op("Unsqueeze", G.Op("Range", zero, totalScalar, one), G.Int64s(0));
        var queries = G.Op("Unsqueeze", G.Op("Range", pastScalar, totalScalar, one), G.Int64s(1));
        var causal = G.Op("LessOrEqual", keys, queries);
        var notPadding = G.Op("Unsqueeze", G.Op("Cast", ["attention_mask"], new OnnxAttribute("to", Int: (long)OnnxDataType.Bool)), G.Int64s(1, 2));
        return G.Op("And", causal, notPadding);
    }

    private (string SeqlensK, string Total) RowLengths()
    {
        var lengths = G.Op("ReduceSum", ["attention_mask", G.Int64s(1)], new OnnxAttribute("keepdims", Int: 0));
        var seqlensK = G.Op("Cast", [G.Op("Sub", lengths, G.Int64Scalar(1))], new OnnxAttribute("to", Int: (long)OnnxDataType.Int32));
        var width = G.Op("Gather", [G.Op("Shape", "attention_mask"), G.Int64Scalar(1)], new OnnxAttribute("axis", Int: 0));
        return (seqlensK, G.Op("Cast", [width], new OnnxAttribute("to", Int: (long)OnnxDataType.Int32)));
    }

    private (string Cos, string Sin) RotaryTables()
    {
        var inverse = RopeScaling.InverseFrequencies(_c.HeadDim, _c.RopeTheta, _c.RopeScaling);
        var frequencies = G.Floats("rope_inv_freq", inverse, [inverse.Length]);
        var positions = G.Op("Unsqueeze", G.Op("Cast", ["position_ids"], new OnnxAttribute("to", Int: (long)OnnxDataType.Float)), G.Int64s(2));
        var angles = G.Op("Mul", positions, frequencies);
        var full = G.Op("Unsqueeze", G.Op("Concat", [angles, angles], new OnnxAttribute("axis", Int: -1)), G.Int64s(1));
        return (ToModelType(G.Op("Cos", full)), ToModelType(G.Op("Sin", full)));
    }

    /// <summary>
    /// GroupQueryAttention's cos_cache and sin_cache, [positions, head_dim / 2] in the model's type: row p holds
    /// cos/sin(p · inverse frequency), the angle rounded to fp32 as Hugging Face computes it. One row per position
    /// the model was trained for (max_position_embeddings), capped at <see cref="MaxRotaryPositions"/>: both tables
    /// take 2 MiB of fp32 for small (8,192 × 32), 32 MiB of fp16 for a 131,072-position Llama 3.1 8B (× 64).
    /// ONNX Runtime refuses a step whose cache would be longer than the tables.
    /// </summary>
    private (string Cos, string Sin) RotaryCaches()
    {
        var inverse = RopeScaling.InverseFrequencies(_c.HeadDim, _c.RopeTheta, _c.RopeScaling);
        var rows = Math.Min(_c.MaxPositionEmbeddings, MaxRotaryPositions);
        string Table(string name, Func<double, double> f) => Register(name, [rows, inverse.Length], () =>
        {
            var values = new float[(long)rows * inverse.Length];
            for (var p = 0; p < rows; p++)
            {
                for (var i = 0; i < inverse.Length; i++)
                {
                    values[((long)p * inverse.Length) + i] = (float)f((float)p * inverse[i]);
                }
            }

            return values;
        });

        return (Table("rope_cos_cache", Math.Cos), Table("rope_sin_cache", Math.Sin));
    }

    /// <summary>Grouped-query attention: each kv head serves heads/kv_heads consecutive query heads.</summary>
    private string RepeatKv(string kv)
    {
        var groups = _c.NumHeads / _c.NumKvHeads;
        if (groups == 1)
        {
            return kv;
        }

        var expanded = G.Op("Expand", G.Op("Unsqueeze", kv, G.Int64s(2)), G.Int64s(1, 1, groups, 1, 1));
        return G.Op("Reshape", expanded, G.Int64s(0, _c.NumHeads, -1, _c.HeadDim));
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

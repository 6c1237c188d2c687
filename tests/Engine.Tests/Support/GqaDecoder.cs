using Distil.Engine.Onnx;

namespace Distil.Engine.Tests.Support;

/// <summary>
/// A one-layer decoder shaped like ONNX Runtime GenAI model-builder output: an RMS norm as ONNX Runtime's
/// SimplifiedLayerNormalization (default domain, as model builder writes it), attention as com.microsoft
/// GroupQueryAttention fed <c>seqlens_k</c> = sum(attention_mask) − 1 and <c>total_sequence_length</c> from the
/// mask's width (so it sees per-row lengths, not the mask), there are no position ids, and the cache's head-size
/// dimension is left symbolic as model builder ≥ 0.15 writes it. Weights are seeded random values.
/// </summary>
internal static class GqaDecoder
{
    public const int Hidden = 32;
    public const int Heads = 4;
    public const int KvHeads = 2;
    public const int HeadSize = 8;

    public static void Write(string modelPath, int vocab, int seed)
    {
        var random = new Random(seed);
        var g = new GraphBuilder("gqa_decoder");
        string Weight(string name, int rows, int cols) =>
            g.Floats(name, Enumerable.Range(0, rows * cols).Select(_ => (float)((random.NextDouble() * 2) - 1) * 0.5f).ToArray(), [rows, cols]);

        g.Graph.Inputs.Add(new OnnxValueInfo("input_ids", OnnxDataType.Int64, ["batch_size", "sequence_length"]));
        g.Graph.Inputs.Add(new OnnxValueInfo("attention_mask", OnnxDataType.Int64, ["batch_size", "total_sequence_length"]));
        foreach (var kind in new[] { "key", "value" })
        {
            g.Graph.Inputs.Add(new OnnxValueInfo($"past_key_values.0.{kind}", OnnxDataType.Float, ["batch_size", (long)KvHeads, "past_sequence_length", "head_size"]));
            g.Graph.Outputs.Add(new OnnxValueInfo($"present.0.{kind}", OnnxDataType.Float, ["batch_size", (long)KvHeads, "total_sequence_length", "head_size"]));
        }

        var x = g.Op("Gather", [Weight("embed", vocab, Hidden), "input_ids"], new OnnxAttribute("axis", Int: 0));
        var normed = "input_layernorm_out";
        g.Graph.Nodes.Add(new OnnxNode("SimplifiedLayerNormalization", "input_layernorm", [x, g.Floats("ln_weight", Enumerable.Range(0, Hidden).Select(i => 1f + (i * 0.01f)).ToArray(), [Hidden])], [normed],
            [new OnnxAttribute("axis", Int: -1), new OnnxAttribute("epsilon", Float: 1e-5f)]));
        var q = g.Op("MatMul", normed, Weight("wq", Hidden, Heads * HeadSize));
        var k = g.Op("MatMul", normed, Weight("wk", Hidden, KvHeads * HeadSize));
        var v = g.Op("MatMul", normed, Weight("wv", Hidden, KvHeads * HeadSize));
        var lengths = g.Op("ReduceSum", ["attention_mask", g.Int64s(1)], new OnnxAttribute("keepdims", Int: 0));
        var seqlensK = g.Op("Cast", [g.Op("Sub", lengths, g.Int64Scalar(1))], new OnnxAttribute("to", Int: (long)OnnxDataType.Int32));
        var width = g.Op("Gather", [g.Op("Shape", "attention_mask"), g.Int64Scalar(1)], new OnnxAttribute("axis", Int: 0));
        var total = g.Op("Cast", [width], new OnnxAttribute("to", Int: (long)OnnxDataType.Int32));
        var attention = "gqa_out";
        g.Graph.Nodes.Add(new OnnxNode("GroupQueryAttention", "gqa", [q, k, v, "past_key_values.0.key", "past_key_values.0.value", seqlensK, total], [attention, "present.0.key", "present.0.value"],
            [new OnnxAttribute("num_heads", Int: Heads), new OnnxAttribute("kv_num_heads", Int: KvHeads)], "com.microsoft"));
        var hidden = g.Op("Add", x, g.Op("MatMul", attention, Weight("wo", Heads * HeadSize, Hidden)));
        g.Identity(g.Op("MatMul", hidden, Weight("lm_head", Hidden, vocab)), "logits");
        g.Graph.Outputs.Insert(0, new OnnxValueInfo("logits", OnnxDataType.Float, ["batch_size", "sequence_length", (long)vocab]));
        OnnxModelWriter.Write(g.Graph, modelPath, 17, externalDataFile: null);
    }
}

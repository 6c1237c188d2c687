using System.Buffers.Binary;
using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Rewrites a graph's projections as ONNX Runtime's 4-bit <c>com.microsoft.MatMulNBits</c>, the form of
/// transformers.js <c>model_q4.onnx</c> and model-builder int4 exports: every MatMul whose right operand is a
/// [K, N] weight becomes symmetric 4-bit blocks along K (zero point 8, one scale per block and output column,
/// low nibble first). With <c>dequantize</c> the same rounded values are written back as plain float MatMul
/// weights instead — the exact model the quantized graph should compute, for checking it.
/// </summary>
internal static class Int4Weights
{
    public const int BlockSize = 32;

    public static OnnxGraph Quantize(OnnxGraph graph, bool dequantize = false)
    {
        var weights = graph.Initializers.ToDictionary(i => i.Name);
        var result = new OnnxGraph(graph.Name);
        result.Inputs.AddRange(graph.Inputs);
        result.Outputs.AddRange(graph.Outputs);
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            if (node.OpType != "MatMul" || !weights.TryGetValue(node.Inputs[1], out var weight) || weight.Dims.Length != 2 || weight.Type is not (OnnxDataType.Float or OnnxDataType.Float16))
            {
                result.Nodes.Add(node);
                continue;
            }

            var (k, n) = ((int)weight.Dims[0], (int)weight.Dims[1]);
            var blocks = (k + BlockSize - 1) / BlockSize;
            var quantized = new Lazy<(byte[] Packed, float[] Scales)>(() => Pack(ReadValues(weight), k, n));
            if (dequantize)
            {
                result.Initializers.Add(weight with { WriteData = stream => GraphBuilder.WriteValues(stream, Unpack(quantized.Value.Packed, quantized.Value.Scales, k, n), weight.Type) });
                result.Nodes.Add(node);
            }
            else
            {
                result.Initializers.Add(new OnnxInitializer(weight.Name + "_q4", OnnxDataType.UInt8, [n, blocks, BlockSize / 2], stream => stream.Write(quantized.Value.Packed)));
                result.Initializers.Add(new OnnxInitializer(weight.Name + "_scales", weight.Type, [(long)n * blocks], stream => GraphBuilder.WriteValues(stream, quantized.Value.Scales, weight.Type)));
                result.Nodes.Add(new OnnxNode("MatMulNBits", node.Name, [node.Inputs[0], weight.Name + "_q4", weight.Name + "_scales"], node.Outputs,
                    [new OnnxAttribute("K", Int: k), new OnnxAttribute("N", Int: n), new OnnxAttribute("bits", Int: 4), new OnnxAttribute("block_size", Int: BlockSize)], "com.microsoft"));
            }

            replaced.Add(weight.Name);
        }

        result.Initializers.InsertRange(0, graph.Initializers.Where(i => !replaced.Contains(i.Name)));
        return result;
    }

    private static float[] ReadValues(OnnxInitializer weight)
    {
        using var bytes = new MemoryStream();
        weight.WriteData(bytes);
        var raw = bytes.GetBuffer().AsSpan(0, (int)bytes.Length);
        var values = new float[weight.Dims[0] * weight.Dims[1]];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = weight.Type == OnnxDataType.Float16 ? (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(i * 2)..]) : BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
        }

        return values;
    }

    /// <summary>[K, N] row-major weights → per output column n and block b: BlockSize/2 bytes and one scale.</summary>
    private static (byte[] Packed, float[] Scales) Pack(float[] w, int k, int n)
    {
        var blocks = (k + BlockSize - 1) / BlockSize;
        var packed = new byte[n * blocks * BlockSize / 2];
        var scales = new float[n * blocks];
        for (var col = 0; col < n; col++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var max = 0f;
                for (var j = b * BlockSize; j < Math.Min(k, (b + 1) * BlockSize); j++)
                {
                    max = Math.Max(max, Math.Abs(w[(j * n) + col]));
                }

                // fp16 graphs store the scale as fp16: round it first so both forms dequantize alike.
                var scale = (float)(Half)(max > 0 ? max / 7 : 1);
                scales[(col * blocks) + b] = scale;
                for (var j = 0; j < BlockSize; j++)
                {
                    var row = (b * BlockSize) + j;
                    var q = row < k ? (int)Math.Clamp(Math.Round(w[(row * n) + col] / scale) + 8, 0, 15) : 8;
                    var at = (((col * blocks) + b) * BlockSize / 2) + (j / 2);
                    packed[at] |= (byte)(j % 2 == 0 ? q : q << 4);
                }
            }
        }

        return (packed, scales);
    }

    private static float[] Unpack(byte[] packed, float[] scales, int k, int n)
    {
        var blocks = (k + BlockSize - 1) / BlockSize;
        var w = new float[k * n];
        for (var col = 0; col < n; col++)
        {
            for (var row = 0; row < k; row++)
            {
                var b = row / BlockSize;
                var j = row % BlockSize;
                var at = (((col * blocks) + b) * BlockSize / 2) + (j / 2);
                var q = j % 2 == 0 ? packed[at] & 0xf : packed[at] >> 4;
                w[(row * n) + col] = (q - 8) * scales[(col * blocks) + b];
            }
        }

        return w;
    }
}

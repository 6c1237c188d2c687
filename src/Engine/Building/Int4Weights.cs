using System.Buffers.Binary;
using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Rewrites a graph's projections as ONNX Runtime's <c>com.microsoft.MatMulNBits</c>, the form of transformers.js
/// <c>model_q4.onnx</c> and model-builder int4 exports: every MatMul whose right operand is a [K, N] weight becomes
/// symmetric blocks along K of 4 bits (zero point 8, low nibble first) or 8 bits (zero point 128), one scale per
/// block and output column; blocks of 32 (the default, finer) or up to 256 values. With <c>dequantize</c> the same
/// rounded values are written back as plain float MatMul weights instead — the exact model the quantized graph
/// should compute, for checking it.
/// </summary>
internal static class Int4Weights
{
    public const int BlockSize = 32;

    /// <param name="bits">4 or 8.</param>
    /// <param name="blockSize">Values per scale along K: a power of two from 16 to 256.</param>
    public static OnnxGraph Quantize(OnnxGraph graph, bool dequantize = false, int bits = 4, int blockSize = BlockSize)
    {
        if (bits is not (4 or 8))
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "MatMulNBits weights are 4 or 8 bits here");
        }

        if (blockSize is < 16 or > 256 || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "the block size must be a power of two from 16 to 256");
        }

        var layout = new Blocks(bits, blockSize);
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
            var blocks = (k + blockSize - 1) / blockSize;
            var quantized = new Lazy<(byte[] Packed, float[] Scales)>(() => Pack(ReadValues(weight), k, n, layout));
            if (dequantize)
            {
                result.Initializers.Add(weight with { WriteData = stream => GraphBuilder.WriteValues(stream, Unpack(quantized.Value.Packed, quantized.Value.Scales, k, n, layout), weight.Type) });
                result.Nodes.Add(node);
            }
            else
            {
                result.Initializers.Add(new OnnxInitializer(weight.Name + $"_q{bits}", OnnxDataType.UInt8, [n, blocks, layout.BytesPerBlock], stream => stream.Write(quantized.Value.Packed)));
                result.Initializers.Add(new OnnxInitializer(weight.Name + "_scales", weight.Type, [(long)n * blocks], stream => GraphBuilder.WriteValues(stream, quantized.Value.Scales, weight.Type)));
                result.Nodes.Add(new OnnxNode("MatMulNBits", node.Name, [node.Inputs[0], weight.Name + $"_q{bits}", weight.Name + "_scales"], node.Outputs,
                    [new OnnxAttribute("K", Int: k), new OnnxAttribute("N", Int: n), new OnnxAttribute("bits", Int: bits), new OnnxAttribute("block_size", Int: blockSize)], "com.microsoft"));
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

    /// <summary>A block layout: <see cref="Size"/> values of <see cref="Bits"/> bits around the zero point 2^(bits−1).</summary>
    private readonly record struct Blocks(int Bits, int Size)
    {
        public int BytesPerBlock => Size * Bits / 8;

        public int ZeroPoint => 1 << (Bits - 1);

        public int MaxLevel => (1 << Bits) - 1;

        /// <summary>Where value <paramref name="j"/> of block <paramref name="block"/> lives, and its shift in that byte.</summary>
        public (int Byte, int Shift) Locate(int block, int j) => Bits == 8 ? ((block * BytesPerBlock) + j, 0) : ((block * BytesPerBlock) + (j / 2), j % 2 == 0 ? 0 : 4);
    }

    /// <summary>[K, N] row-major weights → per output column n and block b: the block's bytes and one scale.</summary>
    private static (byte[] Packed, float[] Scales) Pack(float[] w, int k, int n, Blocks layout)
    {
        var size = layout.Size;
        var blocks = (k + size - 1) / size;
        var packed = new byte[n * blocks * layout.BytesPerBlock];
        var scales = new float[n * blocks];
        for (var col = 0; col < n; col++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var max = 0f;
                for (var j = b * size; j < Math.Min(k, (b + 1) * size); j++)
                {
                    max = Math.Max(max, Math.Abs(w[(j * n) + col]));
                }

                // fp16 graphs store the scale as fp16: round it first so both forms dequantize alike.
                var scale = (float)(Half)(max > 0 ? max / (layout.ZeroPoint - 1) : 1);
                scales[(col * blocks) + b] = scale;
                for (var j = 0; j < size; j++)
                {
                    var row = (b * size) + j;
                    var q = row < k ? (int)Math.Clamp(Math.Round(w[(row * n) + col] / scale) + layout.ZeroPoint, 0, layout.MaxLevel) : layout.ZeroPoint;
                    var (at, shift) = layout.Locate((col * blocks) + b, j);
                    packed[at] |= (byte)(q << shift);
                }
            }
        }

        return (packed, scales);
    }

    private static float[] Unpack(byte[] packed, float[] scales, int k, int n, Blocks layout)
    {
        var blocks = (k + layout.Size - 1) / layout.Size;
        var w = new float[k * n];
        for (var col = 0; col < n; col++)
        {
            for (var row = 0; row < k; row++)
            {
                var b = row / layout.Size;
                var (at, shift) = layout.Locate((col * blocks) + b, row % layout.Size);
                var q = (packed[at] >> shift) & layout.MaxLevel;
                w[(row * n) + col] = (q - layout.ZeroPoint) * scales[(col * blocks) + b];
            }
        }

        return w;
    }
}

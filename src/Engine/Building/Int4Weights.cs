using System.Buffers.Binary;
using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Rewrites a graph's projections as ONNX Runtime's <c>com.microsoft.MatMulNBits</c>, the form of transformers.js
/// <c>model_q4.onnx</c> and model-builder int4 exports: every node that multiplies by a constant 2-D float weight
/// (MatMul, Gemm, com.microsoft FusedMatMul — so the body's projections and the lm_head alike, whichever of these the
/// graph builder chose) becomes symmetric blocks along K of 4 bits (zero point 8, low nibble first) or 8 bits (zero
/// point 128), one scale per block and output column; blocks of 32 (the default, finer) or up to 256 values. A tied
/// head's table is also read by the embedding's Gather: that becomes com.microsoft <c>GatherBlockQuantized</c> over the
/// same rounded rows, so no float copy stays (any other node reading a quantized weight keeps the float one). With
/// <c>dequantize</c> the same rounded values are written back as plain float weights of the original node instead —
/// the exact model the quantized graph should compute, for checking it.
/// </summary>
internal static class Int4Weights
{
    public const int BlockSize = 32;

    /// <summary>MatMulNBits <c>accuracy_level</c> 4: ONNX Runtime's CPU kernel quantizes the activations to int8 per
    /// block and multiplies in int8 with int32 sums (VNNI where the CPU has it). Anything else runs in fp32, which for
    /// 8-bit weights means dequantizing the whole matrix on every call (MLAS has no 8-bit fp32 kernel).</summary>
    public const int Int8Compute = 4;

    /// <summary><c>accuracy_level</c> 1: fp32 activations (exact up to float summation order), for 4 bits only
    /// fast.</summary>
    public const int Fp32Compute = 1;

    /// <param name="bits">4 or 8.</param>
    /// <param name="blockSize">Values per scale along K: a power of two from 16 to 256.</param>
    /// <param name="accuracyLevel">MatMulNBits <c>accuracy_level</c>: <see cref="Int8Compute"/> or <see cref="Fp32Compute"/>.</param>
    public static OnnxGraph Quantize(OnnxGraph graph, bool dequantize = false, int bits = 4, int blockSize = BlockSize, int accuracyLevel = Int8Compute)
    {
        if (bits is not (4 or 8))
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "MatMulNBits weights are 4 or 8 bits here");
        }

        if (blockSize is < 16 or > 256 || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "the block size must be a power of two from 16 to 256");
        }

        if (accuracyLevel is not (Int8Compute or Fp32Compute))
        {
            throw new ArgumentOutOfRangeException(nameof(accuracyLevel), accuracyLevel, "accuracy_level is 4 (int8 compute) or 1 (fp32 compute) here");
        }

        var layout = new Blocks(bits, blockSize);
        var weights = graph.Initializers.ToDictionary(i => i.Name);
        var projections = new Dictionary<string, Projection>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            if (Projection.Of(node, weights) is { } found)
            {
                projections.TryAdd(found.Weight.Name, found);
            }
        }

        var quantized = projections.Values.ToDictionary(p => p.Weight.Name, p => new Quantized(p, layout, dequantize), StringComparer.Ordinal);
        var result = new OnnxGraph(graph.Name);
        result.Inputs.AddRange(graph.Inputs);
        result.Outputs.AddRange(graph.Outputs);
        foreach (var node in graph.Nodes)
        {
            if (Projection.Of(node, weights) is { } projection)
            {
                var q = quantized[projection.Weight.Name];
                result.Nodes.Add(dequantize
                    ? node with { Inputs = [node.Inputs[0], q.Data.Name, .. node.Inputs[2..]] }
                    : new OnnxNode("MatMulNBits", node.Name, [node.Inputs[0], q.Data.Name, q.Scales!.Name], node.Outputs,
                        [new OnnxAttribute("K", Int: projection.K), new OnnxAttribute("N", Int: projection.N), new OnnxAttribute("bits", Int: bits),
                         new OnnxAttribute("block_size", Int: blockSize), new OnnxAttribute("accuracy_level", Int: accuracyLevel)], "com.microsoft"));
            }
            else if (node is { Domain: "", OpType: "Gather" } && quantized.TryGetValue(node.Inputs[0], out var table) && table.Gatherable
                && (node.Attributes.FirstOrDefault(a => a.Name == "axis")?.Int ?? 0) == 0)
            {
                // A tied head's table: the embedding reads the same rounded rows instead of keeping a float copy.
                result.Nodes.Add(dequantize
                    ? node with { Inputs = [table.Data.Name, .. node.Inputs[1..]] }
                    : new OnnxNode("GatherBlockQuantized", node.Name, [table.Rows!.Value.Data.Name, node.Inputs[1], table.Rows.Value.Scales.Name], node.Outputs,
                        [new OnnxAttribute("gather_axis", Int: 0), new OnnxAttribute("quantize_axis", Int: 1), new OnnxAttribute("bits", Int: bits), new OnnxAttribute("block_size", Int: blockSize)], "com.microsoft"));
            }
            else
            {
                result.Nodes.Add(node);
            }
        }

        var read = result.Nodes.SelectMany(node => node.Inputs).ToHashSet(StringComparer.Ordinal);
        result.Initializers.AddRange(graph.Initializers.Where(i => !quantized.ContainsKey(i.Name) || read.Contains(i.Name)));
        result.Initializers.AddRange(quantized.Values.SelectMany(q => q.Initializers).Where(i => read.Contains(i.Name)));
        return result;
    }

    /// <summary>One weight's rounded form: MatMulNBits blocks [N, blocks, bytes] and scales [N · blocks] (or, when
    /// dequantizing, the rounded floats in the weight's own layout); for an [N, K] weight also the rows as
    /// GatherBlockQuantized reads them, [N, K · bits / 8] and [N, blocks] — the same bytes less each row's padding.</summary>
    private sealed class Quantized
    {
        public Quantized(Projection p, Blocks layout, bool dequantize)
        {
            var weight = p.Weight;
            var (k, n, blocks) = (p.K, p.N, (p.K + layout.Size - 1) / layout.Size);
            var values = new Lazy<(byte[] Packed, float[] Scales)>(() => Pack(ReadValues(weight), p, layout));
            var name = $"{weight.Name}_q{layout.Bits}";
            var rowBytes = k * layout.Bits / 8;
            Gatherable = p.NByK && rowBytes * 8 == k * layout.Bits;
            if (dequantize)
            {
                Data = weight with { Name = name + "_rounded", WriteData = stream => GraphBuilder.WriteValues(stream, Unpack(values.Value.Packed, values.Value.Scales, p, layout), weight.Type) };
                return;
            }

            Data = new OnnxInitializer(name, OnnxDataType.UInt8, [n, blocks, layout.BytesPerBlock], stream => stream.Write(values.Value.Packed));
            Scales = new OnnxInitializer(weight.Name + "_scales", weight.Type, [(long)n * blocks], stream => GraphBuilder.WriteValues(stream, values.Value.Scales, weight.Type));
            if (Gatherable)
            {
                Rows = (new OnnxInitializer(name + "_rows", OnnxDataType.UInt8, [n, rowBytes], stream =>
                    {
                        for (var row = 0L; row < n; row++)
                        {
                            stream.Write(values.Value.Packed, (int)(row * blocks * layout.BytesPerBlock), rowBytes);
                        }
                    }),
                    Scales with { Name = weight.Name + "_row_scales", Dims = [n, blocks] });
            }
        }

        /// <summary>Whether a Gather of the weight's rows can read the rounded form (an [N, K] weight of whole bytes per row).</summary>
        public bool Gatherable { get; }

        public OnnxInitializer Data { get; }

        public OnnxInitializer? Scales { get; }

        public (OnnxInitializer Data, OnnxInitializer Scales)? Rows { get; }

        public IEnumerable<OnnxInitializer> Initializers =>
            new[] { Data, Scales, Rows?.Data, Rows?.Scales }.OfType<OnnxInitializer>();
    }

    /// <summary>A node multiplying its first input by a constant 2-D float weight, held as [K, N]
    /// (<see cref="NByK"/> false: MatMul, or Gemm / FusedMatMul without transB) or as [N, K] (transB = 1: the
    /// [vocab, hidden] lm_head or tied embedding table).</summary>
    private sealed record Projection(OnnxInitializer Weight, bool NByK)
    {
        public int K => (int)Weight.Dims[NByK ? 1 : 0];

        public int N => (int)Weight.Dims[NByK ? 0 : 1];

        /// <summary>Where weight (row k, column n) of the [K, N] product lives in the stored matrix.</summary>
        public long At(int k, int n) => NByK ? ((long)n * K) + k : ((long)k * N) + n;

        public static Projection? Of(OnnxNode node, IReadOnlyDictionary<string, OnnxInitializer> weights)
        {
            if (node.Inputs.Length < 2 || !weights.TryGetValue(node.Inputs[1], out var weight) || weight.Dims.Length != 2 || weight.Type is not (OnnxDataType.Float or OnnxDataType.Float16))
            {
                return null;
            }

            long Int(string name, long absent) => node.Attributes.FirstOrDefault(a => a.Name == name)?.Int ?? absent;
            float Float(string name) => node.Attributes.FirstOrDefault(a => a.Name == name)?.Float ?? 1f;
            return (node.Domain, node.OpType) switch
            {
                ("", "MatMul") => new Projection(weight, NByK: false),

                // A bias (C), a scale or a transposed activation have no MatMulNBits form here: such a node stays.
                ("", "Gemm") when (node.Inputs.Length == 2 || node.Inputs[2].Length == 0) && Int("transA", 0) == 0 && Float("alpha") == 1f =>
                    new Projection(weight, NByK: Int("transB", 0) == 1),
                ("com.microsoft", "FusedMatMul") when Int("transA", 0) == 0 && Int("transBatchA", 0) == 0 && Int("transBatchB", 0) == 0 && Float("alpha") == 1f =>
                    new Projection(weight, NByK: Int("transB", 0) == 1),
                _ => null,
            };
        }
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

    /// <summary>The weights → per output column n and block b along K: the block's bytes and one scale.</summary>
    private static (byte[] Packed, float[] Scales) Pack(float[] w, Projection p, Blocks layout)
    {
        var (k, n, size) = (p.K, p.N, layout.Size);
        var blocks = (k + size - 1) / size;
        var packed = new byte[(long)n * blocks * layout.BytesPerBlock];
        var scales = new float[(long)n * blocks];
        for (var col = 0; col < n; col++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var max = 0f;
                for (var j = b * size; j < Math.Min(k, (b + 1) * size); j++)
                {
                    max = Math.Max(max, Math.Abs(w[p.At(j, col)]));
                }

                // fp16 graphs store the scale as fp16: round it first so both forms dequantize alike.
                var scale = (float)(Half)(max > 0 ? max / (layout.ZeroPoint - 1) : 1);
                scales[(col * blocks) + b] = scale;
                for (var j = 0; j < size; j++)
                {
                    var row = (b * size) + j;
                    var q = row < k ? (int)Math.Clamp(Math.Round(w[p.At(row, col)] / scale) + layout.ZeroPoint, 0, layout.MaxLevel) : layout.ZeroPoint;
                    var (at, shift) = layout.Locate((col * blocks) + b, j);
                    packed[at] |= (byte)(q << shift);
                }
            }
        }

        return (packed, scales);
    }

    /// <summary>The rounded weights in the node's own layout.</summary>
    private static float[] Unpack(byte[] packed, float[] scales, Projection p, Blocks layout)
    {
        var (k, n) = (p.K, p.N);
        var blocks = (k + layout.Size - 1) / layout.Size;
        var w = new float[(long)k * n];
        for (var col = 0; col < n; col++)
        {
            for (var row = 0; row < k; row++)
            {
                var b = row / layout.Size;
                var (at, shift) = layout.Locate((col * blocks) + b, row % layout.Size);
                var q = (packed[at] >> shift) & layout.MaxLevel;
                w[p.At(row, col)] = (q - layout.ZeroPoint) * scales[(col * blocks) + b];
            }
        }

        return w;
    }
}

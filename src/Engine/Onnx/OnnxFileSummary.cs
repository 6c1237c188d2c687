using System.Text;
using Distil.Engine.Model;

namespace Distil.Engine.Onnx;

/// <summary>
/// What an ONNX file holds, read straight from its protobuf without loading weights: the operators its top-level
/// graph uses (with their domains) and each initializer's name, element type and shape. ONNX Runtime's session
/// metadata shows only inputs and outputs; the loader needs the operators too (GroupQueryAttention reads per-row
/// lengths instead of a mask) and <c>models info</c> needs the weights' sizes. Weight bytes are skipped by seeking,
/// so an 8B model is summarised by reading a few kilobytes. A file that ends inside a field is reported as truncated.
/// </summary>
internal sealed class OnnxFileSummary
{
    private OnnxFileSummary(string file)
    {
        File = file;
    }

    public string File { get; }

    /// <summary>(domain, op_type) of every node of the main graph; domain "" is standard ONNX.</summary>
    public HashSet<(string Domain, string OpType)> Operators { get; } = [];

    public List<Weight> Weights { get; } = [];

    /// <summary>Graph inputs: element type and dimensions (-1 where symbolic).</summary>
    public List<Value> Inputs { get; } = [];

    /// <summary>Element count × element size of every initializer (sub-byte packs are stored as uint8, so they count at their packed size).</summary>
    public long WeightBytes => Weights.Sum(w => w.Bytes);

    public bool Uses(string opType) => Operators.Any(o => o.OpType == opType);

    /// <summary>Initializers read by quantized operators, by name: MatMulNBits' B, scales and zero points (inputs
    /// 1–3) and GatherBlockQuantized's data, scales and zero points (inputs 0, 2, 3). They are stored as uint8 or
    /// float whatever the bit width, so only the node says how many weights a byte holds.</summary>
    public Dictionary<string, Quantized> QuantizedWeights { get; } = new(StringComparer.Ordinal);

    /// <summary>A quantized operator's initializer: packed weights or their scales and zero points.
    /// <paramref name="Weights"/> is K × N when the node says (MatMulNBits, whose blocks pad K); otherwise a packed
    /// initializer holds 8 / <paramref name="Bits"/> weights a byte.</summary>
    public sealed record Quantized(int Bits, bool Packed, long? Weights = null);

    /// <summary>Model weights an initializer holds: its elements, the weights a packed one stands for, or none for
    /// quantization scales and zero points.</summary>
    public long LogicalElements(Weight weight) => QuantizedWeights.TryGetValue(weight.Name, out var quantized)
        ? (quantized.Packed ? quantized.Weights ?? (weight.Elements * 8 / quantized.Bits) : 0)
        : weight.Elements;

    public sealed record Weight(string Name, int DataType, long[] Dims)
    {
        public long Elements => Dims.Aggregate(1L, (a, d) => a * d);

        public long Bytes => Elements * ElementSize(DataType);
    }

    public sealed record Value(string Name, int DataType, long[] Dims);

    public static OnnxFileSummary Read(string file)
    {
        var summary = new OnnxFileSummary(file);
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var reader = new Reader(stream, file);
        var sawGraph = false;
        while (reader.Position < stream.Length)
        {
            var (field, wire) = reader.Tag();
            if (field == 7 && wire == 2)
            {
                sawGraph = true;
                var end = reader.Length() + reader.Position;
                summary.ReadGraph(reader, end);
            }
            else
            {
                reader.Skip(wire);
            }
        }

        if (!sawGraph)
        {
            throw new ModelFormatException(file, "not an ONNX model (no graph in the file)");
        }

        return summary;
    }

    private static int ElementSize(int dataType) => dataType switch
    {
        1 or 6 or 12 => 4, // float, int32, uint32
        2 or 3 or 9 => 1, // uint8, int8, bool
        4 or 5 or 10 or 16 => 2, // uint16, int16, float16, bfloat16
        7 or 11 or 13 => 8, // int64, double, uint64
        _ => 1,
    };

    private void ReadGraph(Reader reader, long end)
    {
        while (reader.Position < end)
        {
            var (field, wire) = reader.Tag();
            if (field == 1 && wire == 2)
            {
                ReadNode(reader, reader.Length() + reader.Position);
            }
            else if (field == 5 && wire == 2)
            {
                ReadTensor(reader, reader.Length() + reader.Position);
            }
            else if (field == 11 && wire == 2)
            {
                Inputs.Add(ReadValueInfo(reader, reader.Length() + reader.Position));
            }
            else
            {
                reader.Skip(wire);
            }
        }
    }

    /// <summary>Scales and zero points: inputs 2 and 3 of both MatMulNBits and GatherBlockQuantized.</summary>
    private static readonly int[] QuantizationMetadataInputs = [2, 3];

    /// <summary>NodeProto { input = 1, op_type = 4, attribute = 5, domain = 7 }.</summary>
    private void ReadNode(Reader reader, long end)
    {
        string opType = "", domain = "";
        var inputs = new List<string>();
        var attributes = new Dictionary<string, long?>(StringComparer.Ordinal);
        while (reader.Position < end)
        {
            var (field, wire) = reader.Tag();
            if (field == 1 && wire == 2)
            {
                inputs.Add(reader.String());
            }
            else if (field == 4 && wire == 2)
            {
                opType = reader.String();
            }
            else if (field == 5 && wire == 2)
            {
                var (name, value) = ReadIntAttribute(reader, reader.Length() + reader.Position);
                attributes[name] = value;
            }
            else if (field == 7 && wire == 2)
            {
                domain = reader.String();
            }
            else
            {
                reader.Skip(wire);
            }
        }

        Operators.Add((domain == "ai.onnx" ? "" : domain, opType));
        var packed = opType switch
        {
            "MatMulNBits" => 1,
            "GatherBlockQuantized" => 0,
            _ => -1,
        };
        if (packed < 0 || packed >= inputs.Count)
        {
            return;
        }

        var bits = (int)(attributes.GetValueOrDefault("bits") ?? 4); // both ops default to 4 bits
        // Nodes come before initializers in a GraphProto, so the element count of a packed initializer without K and N
        // is only known once the file is read: LogicalElements works it out then.
        var weights = opType == "MatMulNBits" && attributes.GetValueOrDefault("K") is { } k && attributes.GetValueOrDefault("N") is { } n ? k * n : (long?)null;
        QuantizedWeights[inputs[packed]] = new Quantized(bits, Packed: true, weights);
        foreach (var index in QuantizationMetadataInputs.Where(i => i < inputs.Count && inputs[i].Length > 0))
        {
            QuantizedWeights[inputs[index]] = new Quantized(bits, Packed: false);
        }
    }

    /// <summary>AttributeProto { name = 1, i = 3 }: the name and integer value (null when it holds another kind).</summary>
    private static (string Name, long? Value) ReadIntAttribute(Reader reader, long end)
    {
        var name = "";
        long? value = null;
        while (reader.Position < end)
        {
            var (field, wire) = reader.Tag();
            if (field == 1 && wire == 2)
            {
                name = reader.String();
            }
            else if (field == 3 && wire == 0)
            {
                value = (long)reader.Varint();
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return (name, value);
    }

    private void ReadTensor(Reader reader, long end)
    {
        var dims = new List<long>();
        var type = 0;
        var name = "";
        while (reader.Position < end)
        {
            var (field, wire) = reader.Tag();
            if (field == 1 && wire == 0)
            {
                dims.Add((long)reader.Varint());
            }
            else if (field == 1 && wire == 2)
            {
                var packedEnd = reader.Length() + reader.Position;
                while (reader.Position < packedEnd)
                {
                    dims.Add((long)reader.Varint());
                }
            }
            else if (field == 2 && wire == 0)
            {
                type = (int)reader.Varint();
            }
            else if (field == 8 && wire == 2)
            {
                name = reader.String();
            }
            else
            {
                reader.Skip(wire);
            }
        }

        Weights.Add(new Weight(name, type, [.. dims]));
    }

    /// <summary>ValueInfoProto { name = 1, type = 2 }; TypeProto { tensor_type = 1 }; Tensor { elem_type = 1, shape = 2 };
    /// TensorShapeProto { dim = 1 }; Dimension { dim_value = 1, dim_param = 2 }.</summary>
    private static Value ReadValueInfo(Reader reader, long end)
    {
        var name = "";
        var type = 0;
        var dims = new List<long>();
        void Fields(long until, Action<int, int> onField)
        {
            while (reader.Position < until)
            {
                var (field, wire) = reader.Tag();
                onField(field, wire);
            }
        }

        Fields(end, (field, wire) =>
        {
            if (field == 1 && wire == 2)
            {
                name = reader.String();
            }
            else if (field == 2 && wire == 2)
            {
                Fields(reader.Length() + reader.Position, (f, w) =>
                {
                    if (f != 1 || w != 2)
                    {
                        reader.Skip(w);
                        return;
                    }

                    Fields(reader.Length() + reader.Position, (tf, tw) =>
                    {
                        if (tf == 1 && tw == 0)
                        {
                            type = (int)reader.Varint();
                        }
                        else if (tf == 2 && tw == 2)
                        {
                            Fields(reader.Length() + reader.Position, (sf, sw) =>
                            {
                                if (sf != 1 || sw != 2)
                                {
                                    reader.Skip(sw);
                                    return;
                                }

                                var dim = -1L;
                                Fields(reader.Length() + reader.Position, (df, dw) =>
                                {
                                    if (df == 1 && dw == 0)
                                    {
                                        dim = (long)reader.Varint();
                                    }
                                    else
                                    {
                                        reader.Skip(dw);
                                    }
                                });
                                dims.Add(dim);
                            });
                        }
                        else
                        {
                            reader.Skip(tw);
                        }
                    });
                });
            }
            else
            {
                reader.Skip(wire);
            }
        });
        return new Value(name, type, [.. dims]);
    }

    /// <summary>Protobuf wire-format reading over a seekable stream.</summary>
    private sealed class Reader(Stream stream, string file)
    {
        public long Position => stream.Position;

        public (int Field, int Wire) Tag()
        {
            var tag = Varint();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = stream.ReadByte();
                if (b < 0)
                {
                    throw Truncated();
                }

                value |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new ModelFormatException(file, $"not an ONNX model (malformed protobuf at byte {stream.Position})");
        }

        public long Length()
        {
            var length = (long)Varint();
            if (length < 0 || stream.Position + length > stream.Length)
            {
                throw Truncated();
            }

            return length;
        }

        public string String()
        {
            var bytes = new byte[Length()];
            stream.ReadExactly(bytes);
            return Encoding.UTF8.GetString(bytes);
        }

        public void Skip(int wire)
        {
            if (wire == 0)
            {
                Varint();
                return;
            }

            var skip = wire switch
            {
                1 => 8UL,
                2 => (ulong)Length(),
                5 => 4UL,
                _ => throw new ModelFormatException(file, $"not an ONNX model (unknown protobuf wire type {wire} at byte {stream.Position})"),
            };
            if (stream.Position + (long)skip > stream.Length)
            {
                throw Truncated();
            }

            stream.Seek((long)skip, SeekOrigin.Current);
        }

        private ModelFormatException Truncated() =>
            new(file, $"truncated or corrupt ONNX file: a field runs past the end of the file ({stream.Length} bytes)");
    }
}

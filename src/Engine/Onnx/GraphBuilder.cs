using System.Buffers.Binary;

namespace Distil.Engine.Onnx;

/// <summary>Adds nodes and constants to an <see cref="OnnxGraph"/> with generated, unique value names.</summary>
internal sealed class GraphBuilder(string name)
{
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    private int _counter;

    public OnnxGraph Graph { get; } = new(name);

    public string Op(string opType, params string[] inputs) => Op(opType, inputs, []);

    public string Op(string opType, string[] inputs, params OnnxAttribute[] attributes) => OpN(opType, inputs, 1, attributes)[0];

    public string[] OpN(string opType, string[] inputs, int outputs, params OnnxAttribute[] attributes)
    {
        var id = _counter++;
        var names = Enumerable.Range(0, outputs).Select(o => $"{opType.ToLowerInvariant()}_{id}_{o}").ToArray();
        Graph.Nodes.Add(new OnnxNode(opType, $"{opType}_{id}", inputs, names, attributes));
        return names;
    }

    /// <summary>Names the output of the last node (for graph outputs such as <c>logits</c>).</summary>
    public void Identity(string input, string output) =>
        Graph.Nodes.Add(new OnnxNode("Identity", $"Identity_{_counter++}", [input], [output], []));

    public string Int64s(params long[] values) => Int64Tensor(values, [values.Length]);

    public string Int64Scalar(long value) => Int64Tensor([value], []);

    public string Scalar(float value, OnnxDataType type) =>
        Constant($"scalar_{type}_{value:R}", type, [], [value]);

    public string Floats(string name, float[] values, long[] dims, OnnxDataType type = OnnxDataType.Float) =>
        Constant(name, type, dims, values);

    public void Initializer(OnnxInitializer initializer) => Graph.Initializers.Add(initializer);

    public static Action<Stream> Encode(float[] values, OnnxDataType type) => stream => WriteValues(stream, values, type);

    public static void WriteValues(Stream stream, ReadOnlySpan<float> values, OnnxDataType type)
    {
        var width = type == OnnxDataType.Float16 ? 2 : 4;
        var buffer = new byte[Math.Min(values.Length, 1 << 18) * width];
        for (var start = 0; start < values.Length; start += buffer.Length / width)
        {
            var take = Math.Min(buffer.Length / width, values.Length - start);
            for (var i = 0; i < take; i++)
            {
                if (type == OnnxDataType.Float16)
                {
                    BinaryPrimitives.WriteHalfLittleEndian(buffer.AsSpan(i * 2), (Half)values[start + i]);
                }
                else
                {
                    BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), values[start + i]);
                }
            }

            stream.Write(buffer, 0, take * width);
        }
    }

    private string Int64Tensor(long[] values, long[] dims)
    {
        var key = $"i64[{string.Join(',', dims)}]:{string.Join(',', values)}";
        if (_constants.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var name = $"const_{_constants.Count}";
        Graph.Initializers.Add(new OnnxInitializer(name, OnnxDataType.Int64, dims, stream =>
        {
            Span<byte> bytes = stackalloc byte[8];
            foreach (var v in values)
            {
                BinaryPrimitives.WriteInt64LittleEndian(bytes, v);
                stream.Write(bytes);
            }
        }));
        _constants[key] = name;
        return name;
    }

    private string Constant(string key, OnnxDataType type, long[] dims, float[] values)
    {
        if (_constants.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var name = $"const_{_constants.Count}";
        Graph.Initializers.Add(new OnnxInitializer(name, type, dims, Encode(values, type)));
        _constants[key] = name;
        return name;
    }
}

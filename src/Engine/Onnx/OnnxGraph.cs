namespace Distil.Engine.Onnx;

/// <summary>ONNX TensorProto.DataType values this engine writes.</summary>
internal enum OnnxDataType
{
    Float = 1,
    UInt8 = 2,
    Int32 = 6,
    Int64 = 7,
    Bool = 9,
    Float16 = 10,
}

/// <summary>A named weight whose bytes are produced only when the model file is written, so that
/// multi-gigabyte models never sit in memory whole.</summary>
internal sealed record OnnxInitializer(string Name, OnnxDataType Type, long[] Dims, Action<Stream> WriteData)
{
    public long ByteLength => Dims.Aggregate(1L, (a, d) => a * d) * (Type switch
    {
        OnnxDataType.Float => 4,
        OnnxDataType.UInt8 => 1,
        OnnxDataType.Int32 => 4,
        OnnxDataType.Int64 => 8,
        OnnxDataType.Bool => 1,
        OnnxDataType.Float16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(Type)),
    });
}

/// <summary>A graph input or output; a dimension is a fixed size (long) or a symbolic name (string).</summary>
internal sealed record OnnxValueInfo(string Name, OnnxDataType Type, object[] Dims);

internal sealed record OnnxAttribute(string Name, long? Int = null, float? Float = null, long[]? Ints = null, OnnxInitializer? Tensor = null);

/// <param name="Domain">"" for standard ONNX operators, "com.microsoft" for ONNX Runtime's contrib operators.</param>
internal sealed record OnnxNode(string OpType, string Name, string[] Inputs, string[] Outputs, OnnxAttribute[] Attributes, string Domain = "");

/// <summary>An ONNX graph held in memory until <see cref="OnnxModelWriter"/> serializes it.</summary>
internal sealed class OnnxGraph(string name)
{
    public string Name { get; } = name;

    public List<OnnxNode> Nodes { get; } = [];

    public List<OnnxInitializer> Initializers { get; } = [];

    public List<OnnxValueInfo> Inputs { get; } = [];

    public List<OnnxValueInfo> Outputs { get; } = [];
}

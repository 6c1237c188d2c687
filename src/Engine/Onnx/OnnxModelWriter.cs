namespace Distil.Engine.Onnx;

/// <summary>
/// Serializes an <see cref="OnnxGraph"/> as an ONNX ModelProto (field numbers from onnx.proto). Large
/// initializers can go to an external data file next to the model, as the ONNX external-data convention
/// describes (location / offset / length), which keeps the protobuf under its 2 GB limit.
/// </summary>
internal static class OnnxModelWriter
{
    /// <summary>ONNX IR version 8 goes with opset 17.</summary>
    private const long IrVersion = 8;

    /// <param name="externalDataFile">File name (next to the model) for initializers of at least
    /// <paramref name="externalThresholdBytes"/> bytes; null keeps every weight inline.</param>
    public static void Write(OnnxGraph graph, string modelPath, int opset, string? externalDataFile, long externalThresholdBytes = 1024)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        Directory.CreateDirectory(directory);
        var temp = modelPath + ".tmp";
        FileStream? external = externalDataFile is null ? null : new FileStream(Path.Combine(directory, externalDataFile + ".tmp"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        try
        {
            var graphProto = new ProtoWriter();
            foreach (var node in graph.Nodes)
            {
                graphProto.Message(1, Node(node));
            }

            graphProto.String(2, graph.Name);
            foreach (var initializer in graph.Initializers)
            {
                var toExternal = external is not null && initializer.ByteLength >= externalThresholdBytes;
                graphProto.Message(5, toExternal ? ExternalTensor(initializer, external!, externalDataFile!) : InlineTensor(initializer));
            }

            foreach (var input in graph.Inputs)
            {
                graphProto.Message(11, ValueInfo(input));
            }

            foreach (var output in graph.Outputs)
            {
                graphProto.Message(12, ValueInfo(output));
            }

            var model = new ProtoWriter();
            model.Varint(1, IrVersion);
            model.String(2, "distil");
            model.String(3, "1");
            model.Message(7, graphProto);
            var opsetId = new ProtoWriter();
            opsetId.String(1, "");
            opsetId.Varint(2, opset);
            model.Message(8, opsetId);
            foreach (var domain in graph.Nodes.Select(n => n.Domain).Where(d => d.Length > 0).Distinct())
            {
                var contrib = new ProtoWriter();
                contrib.String(1, domain);
                contrib.Varint(2, 1);
                model.Message(8, contrib);
            }
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                model.CopyTo(file);
            }
        }
        finally
        {
            external?.Dispose();
        }

        if (externalDataFile is not null)
        {
            File.Move(Path.Combine(directory, externalDataFile + ".tmp"), Path.Combine(directory, externalDataFile), overwrite: true);
        }

        File.Move(temp, modelPath, overwrite: true);
    }

    /// <summary>A small model (every tensor inline) as bytes, for sessions created in memory.</summary>
    public static byte[] ToBytes(OnnxGraph graph, int opset)
    {
        var path = Path.Combine(Path.GetTempPath(), $"distil-{Guid.NewGuid():N}.onnx");
        try
        {
            Write(graph, path, opset, externalDataFile: null);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static ProtoWriter Node(OnnxNode node)
    {
        var proto = new ProtoWriter();
        foreach (var input in node.Inputs)
        {
            proto.String(1, input);
        }

        foreach (var output in node.Outputs)
        {
            proto.String(2, output);
        }

        proto.String(3, node.Name);
        proto.String(4, node.OpType);
        foreach (var attribute in node.Attributes)
        {
            proto.Message(5, Attribute(attribute));
        }

        if (node.Domain.Length > 0)
        {
            proto.String(7, node.Domain);
        }

        return proto;
    }

    private static ProtoWriter Attribute(OnnxAttribute attribute)
    {
        // AttributeProto: name = 1, f = 2, i = 3, t = 5, ints = 8, type = 20 (FLOAT 1, INT 2, TENSOR 4, INTS 7).
        var proto = new ProtoWriter();
        proto.String(1, attribute.Name);
        if (attribute.Float is { } f)
        {
            proto.Float(2, f);
            proto.Varint(20, 1);
        }
        else if (attribute.Int is { } i)
        {
            proto.Varint(3, i);
            proto.Varint(20, 2);
        }
        else if (attribute.Tensor is { } t)
        {
            proto.Message(5, InlineTensor(t));
            proto.Varint(20, 4);
        }
        else if (attribute.Ints is { } ints)
        {
            proto.PackedVarints(8, ints);
            proto.Varint(20, 7);
        }

        return proto;
    }

    private static ProtoWriter TensorHeader(OnnxInitializer tensor)
    {
        var proto = new ProtoWriter();
        if (tensor.Dims.Length > 0)
        {
            proto.PackedVarints(1, tensor.Dims);
        }

        proto.Varint(2, (long)tensor.Type);
        proto.String(8, tensor.Name);
        return proto;
    }

    private static ProtoWriter InlineTensor(OnnxInitializer tensor)
    {
        var proto = TensorHeader(tensor);
        using var bytes = new MemoryStream();
        tensor.WriteData(bytes);
        CheckLength(tensor, bytes.Length);
        proto.Bytes(9, bytes.GetBuffer().AsSpan(0, (int)bytes.Length));
        return proto;
    }

    private static ProtoWriter ExternalTensor(OnnxInitializer tensor, FileStream external, string location)
    {
        var offset = external.Position;
        tensor.WriteData(external);
        CheckLength(tensor, external.Position - offset);
        var proto = TensorHeader(tensor);
        foreach (var (key, value) in new[] { ("location", location), ("offset", offset.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("length", tensor.ByteLength.ToString(System.Globalization.CultureInfo.InvariantCulture)) })
        {
            var entry = new ProtoWriter();
            entry.String(1, key);
            entry.String(2, value);
            proto.Message(13, entry);
        }

        proto.Varint(14, 1); // data_location = EXTERNAL
        return proto;
    }

    private static void CheckLength(OnnxInitializer tensor, long written)
    {
        if (written != tensor.ByteLength)
        {
            throw new InvalidOperationException($"initializer '{tensor.Name}' wrote {written} bytes, its shape needs {tensor.ByteLength}");
        }
    }

    private static ProtoWriter ValueInfo(OnnxValueInfo info)
    {
        // ValueInfoProto { name = 1, type = 2 }; TypeProto { tensor_type = 1 }; Tensor { elem_type = 1, shape = 2 };
        // TensorShapeProto { dim = 1 }; Dimension { dim_value = 1, dim_param = 2 }.
        var shape = new ProtoWriter();
        foreach (var dim in info.Dims)
        {
            var d = new ProtoWriter();
            if (dim is string symbol)
            {
                d.String(2, symbol);
            }
            else
            {
                d.Varint(1, Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture));
            }

            shape.Message(1, d);
        }

        var tensorType = new ProtoWriter();
        tensorType.Varint(1, (long)info.Type);
        tensorType.Message(2, shape);
        var type = new ProtoWriter();
        type.Message(1, tensorType);
        var proto = new ProtoWriter();
        proto.String(1, info.Name);
        proto.Message(2, type);
        return proto;
    }
}

using System.Buffers.Binary;
using System.Text.Json;
using Distil.Engine.Model;

namespace Distil.Engine.Building;

/// <summary>
/// Reads a Hugging Face safetensors checkpoint folder: one <c>model.safetensors</c> or shards listed by
/// <c>model.safetensors.index.json</c>. Each file is an 8-byte little-endian header length, a JSON header
/// (name → dtype, shape, data_offsets) and the raw little-endian tensor bytes; tensors are read on demand.
/// </summary>
public sealed class SafetensorsCheckpoint : ILlamaWeights
{
    private readonly Dictionary<string, TensorEntry> _tensors = new(StringComparer.Ordinal);

    private SafetensorsCheckpoint(string source)
    {
        Source = source;
    }

    /// <summary>model.safetensors.index.json when the checkpoint is sharded, else its one safetensors file.</summary>
    public string Source { get; }

    public IReadOnlyCollection<string> Names => _tensors.Keys;

    public static SafetensorsCheckpoint Open(string folder)
    {
        var index = Path.Combine(folder, "model.safetensors.index.json");
        IEnumerable<string> files;
        if (File.Exists(index))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(index));
                files = doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct().Select(f => Path.Combine(folder, f)).ToList();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new ModelFormatException(index, $"field 'weight_map' is missing or malformed ({e.Message})", e);
            }
        }
        else
        {
            files = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.safetensors").Order(StringComparer.Ordinal).ToList() : [];
        }

        var checkpoint = new SafetensorsCheckpoint(File.Exists(index) ? index : files.FirstOrDefault() ?? Path.Combine(folder, "model.safetensors"));
        foreach (var file in files)
        {
            checkpoint.ReadHeader(file);
        }

        if (checkpoint._tensors.Count == 0)
        {
            throw new ModelFormatException(Path.Combine(folder, "model.safetensors"), "no safetensors weights found in the checkpoint folder");
        }

        return checkpoint;
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public float[] Read(string name, out long[] shape)
    {
        if (!_tensors.TryGetValue(name, out var entry))
        {
            throw new ModelFormatException(Source, $"tensor '{name}' not found in the checkpoint");
        }

        shape = entry.Shape;
        var count = shape.Aggregate(1L, (a, d) => a * d);
        var width = entry.Dtype == "F32" ? 4 : 2;
        if (entry.End - entry.Begin != count * width)
        {
            throw new ModelFormatException(entry.File, $"tensor '{name}': data_offsets span {entry.End - entry.Begin} bytes, shape [{string.Join(", ", shape)}] of {entry.Dtype} needs {count * width}");
        }

        var result = new float[count];
        using var stream = new FileStream(entry.File, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        stream.Position = entry.DataStart + entry.Begin;
        var buffer = new byte[1 << 20];
        long done = 0;
        while (done < count)
        {
            var take = (int)Math.Min(buffer.Length / width, count - done);
            stream.ReadExactly(buffer, 0, take * width);
            for (var i = 0; i < take; i++)
            {
                result[done + i] = entry.Dtype switch
                {
                    "F32" => BinaryPrimitives.ReadSingleLittleEndian(buffer.AsSpan(i * 4)),
                    "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(buffer.AsSpan(i * 2)),
                    _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(i * 2)) << 16),
                };
            }

            done += take;
        }

        return result;
    }

    private void ReadHeader(string file)
    {
        if (!File.Exists(file))
        {
            throw new ModelFormatException(file, "shard listed in the checkpoint is missing");
        }

        using var stream = File.OpenRead(file);
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.Read(lengthBytes) != 8)
        {
            throw new ModelFormatException(file, "too short to be a safetensors file");
        }

        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (headerLength <= 0 || headerLength > 100_000_000 || headerLength > stream.Length - 8)
        {
            throw new ModelFormatException(file, $"header length {headerLength} is not plausible; not a safetensors file");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        try
        {
            using var doc = JsonDocument.Parse(header);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }

                var dtype = property.Value.GetProperty("dtype").GetString()!;
                if (dtype is not ("F32" or "F16" or "BF16"))
                {
                    throw new ModelFormatException(file, $"tensor '{property.Name}' has dtype {dtype}; supported: F32, F16, BF16");
                }

                var shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (offsets.Length != 2 || 8 + headerLength + offsets[1] > stream.Length)
                {
                    throw new ModelFormatException(file, $"tensor '{property.Name}': data_offsets point past the end of the file (truncated download?)");
                }

                _tensors[property.Name] = new TensorEntry(file, dtype, shape, 8 + headerLength, offsets[0], offsets[1]);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelFormatException(file, $"malformed safetensors header ({e.Message})", e);
        }
    }

    private sealed record TensorEntry(string File, string Dtype, long[] Shape, long DataStart, long Begin, long End);
}

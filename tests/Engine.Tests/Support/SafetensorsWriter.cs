using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Distil.Engine.Tests.Support;

/// <summary>A minimal safetensors writer for test checkpoints (F32 or BF16, round-to-nearest-even).</summary>
internal static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyList<(string Name, long[] Shape, float[] Data)> tensors, bool bf16)
    {
        var header = new JsonObject();
        long offset = 0;
        var width = bf16 ? 2 : 4;
        foreach (var (name, shape, data) in tensors)
        {
            header[name] = new JsonObject
            {
                ["dtype"] = bf16 ? "BF16" : "F32",
                ["shape"] = new JsonArray(shape.Select(d => (JsonNode?)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + (data.Length * width)),
            };
            offset += data.Length * width;
        }

        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var file = File.Create(path);
        var length = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, headerBytes.Length);
        file.Write(length);
        file.Write(headerBytes);
        foreach (var (_, _, data) in tensors)
        {
            var bytes = new byte[data.Length * width];
            for (var i = 0; i < data.Length; i++)
            {
                if (bf16)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), ToBf16(data[i]));
                }
                else
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), data[i]);
                }
            }

            file.Write(bytes);
        }
    }

    public static ushort ToBf16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float RoundToBf16(float value) => BitConverter.UInt32BitsToSingle((uint)ToBf16(value) << 16);
}

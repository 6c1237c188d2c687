using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Distil.Engine.Onnx;

/// <summary>
/// The protobuf wire format, just enough of it to write ONNX: varints, length-delimited fields and
/// packed repeated scalars. Sub-messages are written into their own buffer first because protobuf
/// prefixes them with their length.
/// </summary>
[SuppressMessage("Design", "CA1001:TypesThatOwnDisposableFieldsShouldBeDisposable", Justification = "A MemoryStream holds no unmanaged resource; disposing it frees nothing.")]
internal sealed class ProtoWriter
{
    private readonly MemoryStream _buffer = new();

    public long Length => _buffer.Length;

    public void Varint(int field, long value)
    {
        Tag(field, 0);
        WriteVarint(unchecked((ulong)value));
    }

    public void Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> bytes = stackalloc byte[4];
        BitConverter.TryWriteBytes(bytes, value);
        _buffer.Write(bytes);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        WriteVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    public void Message(int field, ProtoWriter message) => Bytes(field, message._buffer.GetBuffer().AsSpan(0, (int)message._buffer.Length));

    public void PackedVarints(int field, IEnumerable<long> values)
    {
        var inner = new ProtoWriter();
        foreach (var value in values)
        {
            inner.WriteVarint(unchecked((ulong)value));
        }

        Message(field, inner);
    }

    public void PackedFloats(int field, IEnumerable<float> values)
    {
        var inner = new ProtoWriter();
        Span<byte> bytes = stackalloc byte[4];
        foreach (var value in values)
        {
            BitConverter.TryWriteBytes(bytes, value);
            inner._buffer.Write(bytes);
        }

        Message(field, inner);
    }

    public void CopyTo(Stream stream) => stream.Write(_buffer.GetBuffer(), 0, (int)_buffer.Length);

    private void Tag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

    private void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        _buffer.WriteByte((byte)value);
    }
}


namespace Distil.Pipeline;

/// <summary>Where invalid UTF-8 sits in a byte buffer, so that a loader can report it instead of replacing it with U+FFFD.</summary>
public static class Utf8Text
{
    /// <summary>Offset of the first byte that is not valid UTF-8, or -1 when all are.</summary>
    public static int InvalidOffset(ReadOnlySpan<byte> bytes)
    {
        var offset = 0;
        while (offset < bytes.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return -1;
    }

    /// <summary>The 1-based line holding byte <paramref name="offset"/>.</summary>
    public static long LineAt(ReadOnlySpan<byte> bytes, int offset) => bytes[..Math.Max(0, offset)].Count((byte)'\n') + 1;
}

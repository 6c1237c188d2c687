using System.Buffers.Binary;

namespace Distil.Steps;

/// <summary>
/// Plain words for the common ways a Parquet file is broken (empty, cut short, not Parquet at all), checked from
/// its first and last bytes before Parquet.Net's reader would fail with "Invalid data in Thrift header".
/// </summary>
internal static class ParquetDamage
{
    private static ReadOnlySpan<byte> Magic => "PAR1"u8;

    /// <summary>What is wrong with the file's frame (markers and footer length), or null when it looks whole.</summary>
    public static string? Describe(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var length = stream.Length;
        if (length < 12)
        {
            return $"it is {length} bytes long; even an empty Parquet file has 12 or more (the file is empty or cut short)";
        }

        Span<byte> head = stackalloc byte[4];
        stream.ReadExactly(head);
        Span<byte> tail = stackalloc byte[8];
        stream.Seek(-8, SeekOrigin.End);
        stream.ReadExactly(tail);
        if (!head.SequenceEqual(Magic))
        {
            return "it does not start with the Parquet marker PAR1 (it is not a Parquet file)";
        }

        if (!tail[4..].SequenceEqual(Magic))
        {
            return "it does not end with the Parquet marker PAR1 (the file was cut short, e.g. a copy or write that did not finish)";
        }

        var footer = BinaryPrimitives.ReadUInt32LittleEndian(tail);
        return footer > length - 12
            ? $"its footer claims {footer:N0} bytes but the file has only {length:N0} (the file is damaged)"
            : null;
    }
}

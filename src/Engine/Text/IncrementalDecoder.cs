using System.Text;

namespace Distil.Engine.Text;

/// <summary>
/// Turns one sequence's tokens into text as they arrive. A character whose UTF-8 bytes span several tokens is
/// held back until its last byte comes, so no chunk ever ends in half a character.
/// </summary>
public sealed class IncrementalDecoder(ModelTokenizer tokenizer, bool skipSpecialTokens = true)
{
    private readonly byte[] _pending = new byte[4];
    private int _pendingCount;
    private byte[] _buffer = new byte[64];
    // SentencePiece-style tokenizers drop the space their first token starts with, as Decode does.
    private int _leadingSpaces = tokenizer.LeadingSpacesRemoved;

    /// <summary>Adds a token and returns the text it completes (empty while a character is still partial).</summary>
    public string Push(int tokenId)
    {
        if (skipSpecialTokens && tokenizer.IsSpecial(tokenId))
        {
            return string.Empty;
        }
        var bytes = tokenizer.TokenByteSpan(tokenId);
        var total = _pendingCount + bytes.Length;
        if (_buffer.Length < total)
        {
            _buffer = new byte[Math.Max(total, _buffer.Length * 2)];
        }
        _pending.AsSpan(0, _pendingCount).CopyTo(_buffer);
        bytes.CopyTo(_buffer.AsSpan(_pendingCount));
        var complete = total - IncompleteTail(_buffer.AsSpan(0, total));
        _pendingCount = total - complete;
        _buffer.AsSpan(complete, _pendingCount).CopyTo(_pending);
        return complete == 0 ? string.Empty : DropLeadingSpaces(Encoding.UTF8.GetString(_buffer, 0, complete));
    }

    private string DropLeadingSpaces(string text)
    {
        if (_leadingSpaces == 0)
        {
            return text;
        }
        var skip = 0;
        while (skip < text.Length && skip < _leadingSpaces && text[skip] == ' ')
        {
            skip++;
        }
        _leadingSpaces = skip == text.Length ? _leadingSpaces - skip : 0;
        return text[skip..];
    }

    /// <summary>Text still held back at the end of the sequence (a cut character decodes to U+FFFD).</summary>
    public string Flush()
    {
        var text = _pendingCount == 0 ? string.Empty : DropLeadingSpaces(Encoding.UTF8.GetString(_pending, 0, _pendingCount));
        _pendingCount = 0;
        return text;
    }

    /// <summary>How many trailing bytes start a multi-byte character whose remaining bytes have not arrived yet.</summary>
    internal static int IncompleteTail(ReadOnlySpan<byte> bytes)
    {
        // Walk back over at most 3 continuation bytes to the lead byte of the last character.
        for (var back = 1; back <= Math.Min(4, bytes.Length); back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }
            var needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            // A lead byte with fewer bytes after it than it announces is incomplete; anything else decodes now.
            return needed > back && b < 0xF8 ? back : 0;
        }
        return 0;
    }
}

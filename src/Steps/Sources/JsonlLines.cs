using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>One line of a JSONL file: its text, or why it has none (too long, not UTF-8).</summary>
/// <param name="Number">1-based line number.</param>
/// <param name="FileOffset">Byte offset of the line's start in the file.</param>
/// <param name="Text">The line, or null when <paramref name="Problem"/> says why not.</param>
internal sealed record JsonlLine(long Number, long FileOffset, string? Text, string? Problem);

/// <summary>
/// Splits a stream into lines without ever holding more than <c>maxLineBytes</c> of one line: a longer line is
/// skipped to its end and reported, and invalid UTF-8 is reported with its byte offset instead of being replaced
/// with U+FFFD the way <see cref="StreamReader"/> does.
/// </summary>
[SuppressMessage("Design", "CA1001:TypesThatOwnDisposableFieldsShouldBeDisposable", Justification = "A MemoryStream holds no unmanaged resource; disposing it frees nothing.")]
internal sealed class JsonlLines(int maxLineBytes)
{
    private const int ChunkSize = 1 << 16;
    private readonly MemoryStream _line = new();
    private long _number = 1;
    private long _lineStart;
    private long _position;
    private long _overlong = -1; // bytes of the current line when it is past the cap, else -1

    public static async IAsyncEnumerable<JsonlLine> ReadAsync(string path, int maxLineBytes, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true);
        var lines = new JsonlLines(maxLineBytes);
        var buffer = new byte[ChunkSize];
        var output = new List<JsonlLine>();
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            lines.Feed(buffer.AsSpan(0, read), output);
            foreach (var line in output)
            {
                yield return line;
            }

            output.Clear();
        }

        if (lines.Finish() is { } last)
        {
            yield return last;
        }
    }

    private void Feed(ReadOnlySpan<byte> chunk, List<JsonlLine> output)
    {
        while (chunk.Length > 0)
        {
            var newline = chunk.IndexOf((byte)'\n');
            var part = newline < 0 ? chunk : chunk[..newline];
            Append(part);
            _position += part.Length;
            if (newline < 0)
            {
                return;
            }

            output.Add(Complete());
            _position++;
            _lineStart = _position;
            chunk = chunk[(newline + 1)..];
        }
    }

    private JsonlLine? Finish() => _line.Length > 0 || _overlong >= 0 ? Complete() : null;

    private void Append(ReadOnlySpan<byte> part)
    {
        if (_overlong >= 0)
        {
            _overlong += part.Length;
        }
        else if (_line.Length + part.Length > maxLineBytes)
        {
            _overlong = _line.Length + part.Length;
            _line.SetLength(0);
        }
        else
        {
            _line.Write(part);
        }
    }

    private JsonlLine Complete()
    {
        var number = _number++;
        try
        {
            if (_overlong >= 0)
            {
                return new JsonlLine(number, _lineStart, null, $"the line is {_overlong:N0} bytes, longer than the {maxLineBytes:N0} allowed (raise \"max_line_bytes\" on the source if it is meant)");
            }

            var bytes = _line.GetBuffer().AsSpan(0, (int)_line.Length);
            if (number == 1 && bytes.StartsWith("\uFEFF"u8))
            {
                bytes = bytes[3..];
            }

            if (bytes.Length > 0 && bytes[^1] == (byte)'\r')
            {
                bytes = bytes[..^1];
            }

            var invalid = Utf8Text.InvalidOffset(bytes);
            return invalid >= 0
                ? new JsonlLine(number, _lineStart, null, $"invalid UTF-8 at byte {_lineStart + invalid:N0} of the file (byte {invalid + 1} of the line)")
                : new JsonlLine(number, _lineStart, Encoding.UTF8.GetString(bytes), null);
        }
        finally
        {
            _line.SetLength(0);
            _overlong = -1;
        }
    }
}

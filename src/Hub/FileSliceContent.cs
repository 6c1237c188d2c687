using System.Net;

namespace Distil.Hub;

/// <summary>
/// A byte range of a file as a request body, read from disk as it is sent. Each send reopens the file,
/// so a retried request (or a multipart part) never needs the bytes in memory.
/// </summary>
internal sealed class FileSliceContent : HttpContent
{
    private readonly string _path;
    private readonly long _offset;
    private readonly long _length;

    public FileSliceContent(string path, long offset, long length)
    {
        _path = path;
        _offset = offset;
        _length = length;
        Headers.ContentLength = length;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
        file.Position = _offset;
        var buffer = new byte[(int)Math.Min(1 << 20, Math.Max(1, _length))];
        var left = _length;
        while (left > 0)
        {
            var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException($"{_path} is shorter than expected (it changed while being uploaded)");
            }

            await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            left -= read;
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }
}

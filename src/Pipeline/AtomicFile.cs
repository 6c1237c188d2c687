namespace Distil.Pipeline;

/// <summary>
/// Writes files so that a reader (or a rerun after kill -9) sees either the old content or the whole new
/// content: write a temporary file beside the target, flush it to disk, then rename over the target.
/// </summary>
public static class AtomicFile
{
    public static string TempPathFor(string path) => path + ".partial";

    public static void WriteAllText(string path, string text)
    {
        var temp = TempPathFor(path);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Streams content into the temporary file, then renames it into place.</summary>
    /// <param name="durable">
    /// Flush to disk before the rename. A killed process never leaves a torn file either way; flushing also
    /// survives a power cut, at a cost per file that matters for many small files.
    /// </param>
    /// <param name="temp">The temporary file; unique names let several processes write the same target.</param>
    public static async Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken, bool durable = true, string? temp = null)
    {
        temp ??= TempPathFor(path);
        try
        {
            await using var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await write(stream, cancellationToken);
            await stream.FlushAsync(cancellationToken);
            if (durable)
            {
                stream.Flush(flushToDisk: true);
            }
        }
        catch
        {
            // A cancelled or failed write leaves nothing behind (only kill -9 can leave a .partial, which the next write replaces).
            File.Delete(temp);
            throw;
        }

        File.Move(temp, path, overwrite: true);
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;

namespace Distil.Pipeline;

/// <summary>
/// SHA-256 of files, each big file hashed once: its digest is remembered by (path, size, modification time)
/// in memory and in <c>file-digests.tsv</c> under the user's cache folder (<c>DISTIL_CACHE_DIR</c>, else
/// <c>$XDG_CACHE_HOME/distil</c>, else <c>~/.cache/distil</c>), so an 8B model is not re-read on every run.
/// A file rewritten in place gets a new modification time, hence a new digest.
/// </summary>
public static class FileDigests
{
    /// <summary>Files below this size are cheaper to hash than to remember.</summary>
    private const long RememberFrom = 1 << 20;

    private static readonly ConcurrentDictionary<(string Path, long Size, long Ticks), string> Known = new();
    private static readonly Lazy<string?> Store = new(LoadStore);
    private static readonly Lock StoreLock = new();

    public static async ValueTask<string> OfAsync(string path, CancellationToken cancellationToken)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        var key = (info.FullName, info.Length, info.LastWriteTimeUtc.Ticks);
        if (info.Length >= RememberFrom)
        {
            _ = Store.Value; // loads the remembered digests on first use
            if (Known.TryGetValue(key, out var known))
            {
                return known;
            }
        }

        string digest;
        await using (var stream = new FileStream(info.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan))
        {
            digest = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }

        if (info.Length >= RememberFrom && Known.TryAdd(key, digest))
        {
            Remember(key, digest);
        }

        return digest;
    }

    private static string? LoadStore()
    {
        var folder = Environment.GetEnvironmentVariable("DISTIL_CACHE_DIR")
            ?? (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "distil") : null)
            ?? (Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home ? Path.Combine(home, ".cache", "distil") : null);
        if (folder is null)
        {
            return null;
        }

        var path = Path.Combine(folder, "file-digests.tsv");
        try
        {
            if (File.Exists(path))
            {
                foreach (var line in File.ReadLines(path))
                {
                    // path \t size \t ticks \t sha256; a torn line (two writers) is ignored and the file hashed again.
                    var parts = line.Split('\t');
                    if (parts.Length == 4 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var size)
                        && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var ticks) && parts[3].Length == 64)
                    {
                        Known[(parts[0], size, ticks)] = parts[3];
                    }
                }
            }

            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void Remember((string Path, long Size, long Ticks) key, string digest)
    {
        if (Store.Value is not { } store || key.Path.Contains('\t') || key.Path.Contains('\n'))
        {
            return;
        }

        try
        {
            lock (StoreLock)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(store)!);
                File.AppendAllText(store, string.Create(CultureInfo.InvariantCulture, $"{key.Path}\t{key.Size}\t{key.Ticks}\t{digest}\n"));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only a speed-up: the next run hashes the file again.
        }
    }
}

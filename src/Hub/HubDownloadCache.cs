using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Distil.Hub;

/// <summary>
/// Downloads repository files into a folder keyed by commit, so a file is fetched once per commit. A download
/// goes to <c>&lt;file&gt;.part</c> and is renamed when complete (and its SHA-256 checked against the LFS oid
/// when the tree gave one): a kill leaves no torn file, and the next attempt (in this run after a dropped
/// connection, or in the next run) asks only for the missing bytes with an HTTP Range request. A
/// <c>&lt;file&gt;.lock</c> beside it lets one reader download while others of the same cache wait.
/// </summary>
internal sealed class HubDownloadCache(HubHttp http, HubRetryPolicy retry, ILogger logger)
{
    private const string PartSuffix = ".part";
    private const string LockSuffix = ".lock";
    private static readonly TimeSpan LockPoll = TimeSpan.FromMilliseconds(200);

    public async Task<string> GetAsync(Uri url, HubRepoEntry file, string local, CancellationToken cancellationToken)
    {
        if (IsComplete(local, file))
        {
            return local;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        var part = local + PartSuffix;
        var what = $"download of {file.Path}";

        // Shards of one run on one machine share the cache: one downloads, the others wait and then find the file.
        await using var guard = await LockAsync(local + LockSuffix, what, cancellationToken).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            if (IsComplete(local, file))
            {
                return local;
            }

            try
            {
                await ContinueAsync(url, file, part, what, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or HttpRequestException && attempt < retry.MaxAttempts)
            {
                // The body broke off: what arrived stays in the .part file and the next attempt resumes after it.
                await http.WaitAsync(what, attempt, null, $"{http.Redact(e.Message)} after {(File.Exists(part) ? new FileInfo(part).Length : 0)} of {file.Size} bytes", cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or HttpRequestException)
            {
                throw new HubPublishException($"{what} failed after {attempt} attempts ({HubHttp.Describe(url)}): {http.Redact(e.Message)}");
            }
        }

        await VerifyAsync(file, part, cancellationToken).ConfigureAwait(false);
        File.Move(part, local, overwrite: true);
        return local;
    }

    /// <summary>
    /// .NET reports a held FileShare.None lock as an IOException whose HResult is the OS error: Windows'
    /// ERROR_SHARING_VIOLATION (32, as an HRESULT), or flock's EWOULDBLOCK on Unix (11 on Linux, 35 on macOS).
    /// </summary>
    private static bool IsLockedByAnother(IOException e) =>
        (e.HResult & 0xFFFF) == 32 || (!OperatingSystem.IsWindows() && e.HResult == (OperatingSystem.IsMacOS() ? 35 : 11));

    private static bool IsComplete(string local, HubRepoEntry file) => File.Exists(local) && new FileInfo(local).Length == file.Size;

    /// <summary>Holds <paramref name="path"/> exclusively (the lock file stays, so every waiter locks the same file), waiting while another holds it.</summary>
    private async Task<FileStream> LockAsync(string path, string what, CancellationToken cancellationToken)
    {
        for (var waited = false; ; waited = true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (IsLockedByAnother(e))
            {
                if (!waited)
                {
                    logger.LogInformation("{What}: another reader of this cache is downloading it; waiting", what);
                }

                await Task.Delay(LockPoll, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Appends the bytes <paramref name="part"/> lacks; starts over when the server ignores the Range.</summary>
    private async Task ContinueAsync(Uri url, HubRepoEntry file, string part, string what, CancellationToken cancellationToken)
    {
        await using var output = new FileStream(part, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        var have = output.Length > file.Size ? 0 : output.Length;
        if (have == file.Size && have > 0)
        {
            return;
        }

        using var response = await http.SendAsync(
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, url);
                if (have > 0)
                {
                    request.Headers.Range = new RangeHeaderValue(have, null);
                }

                return request;
            },
            what,
            cancellationToken).ConfigureAwait(false);
        var resumed = have > 0 && response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From == have;
        if (have > 0)
        {
            logger.LogInformation("{What}: {How} at byte {Offset} of {Size}", what, resumed ? "resuming" : "the server sent the whole file; starting over", have, file.Size);
        }

        output.SetLength(resumed ? have : 0);
        output.Seek(0, SeekOrigin.End);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await body.CopyToAsync(output, 1 << 16, cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (output.Length != file.Size)
        {
            throw new IOException($"the connection closed after {output.Length} of {file.Size} bytes");
        }
    }

    private static async Task VerifyAsync(HubRepoEntry file, string part, CancellationToken cancellationToken)
    {
        if (file.Sha256 is null)
        {
            return;
        }

        string actual;
        await using (var stream = new FileStream(part, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
        {
            actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }

        if (!string.Equals(actual, file.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(part);
            throw new HubPublishException($"download of {file.Path}: its SHA-256 is {actual}, the Hub lists {file.Sha256}; the partial file was removed, run again");
        }
    }
}

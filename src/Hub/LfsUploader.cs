using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Hub;

/// <summary>
/// Uploads one LFS object as the batch answer says: one PUT (basic), or chunked PUTs to the part URLs
/// followed by the completion POST with the parts' ETags (multipart); then the verify call.
/// Each PUT is retried on its own, so a failure costs one part, not the file.
/// </summary>
internal sealed class LfsUploader
{
    private readonly HubHttp _http;
    private readonly int _concurrency;
    private readonly ILogger _logger;
    private long _bytesSent;

    public LfsUploader(HubHttp http, int concurrency, ILogger? logger)
    {
        _http = http;
        _concurrency = Math.Max(1, concurrency);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Bytes of file content whose upload the server accepted.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public async Task UploadAsync(RepoFile file, FileDigest digest, LfsObjectActions actions, CancellationToken cancellationToken)
    {
        if (actions.Upload is { } upload)
        {
            if (upload.IsMultipart)
            {
                await UploadMultipartAsync(file, digest, upload, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _logger.LogInformation("Uploading {Path} ({Size:N0} bytes)", file.PathInRepo, digest.Size);
                using var response = await _http.SendAsync(
                    () =>
                    {
                        var request = new HttpRequestMessage(HttpMethod.Put, upload.Href) { Content = new FileSliceContent(file.LocalPath, 0, digest.Size) };
                        upload.ApplyHeaders(request);
                        return request;
                    },
                    $"upload of {file.PathInRepo}",
                    cancellationToken,
                    withToken: false).ConfigureAwait(false);
                Interlocked.Add(ref _bytesSent, digest.Size);
            }
        }

        if (actions.Verify is { } verify)
        {
            var body = new JsonObject { ["oid"] = digest.Sha256, ["size"] = digest.Size };
            using var response = await _http.SendAsync(
                () =>
                {
                    var request = HubClient.LfsPost(verify.Href, body);
                    verify.ApplyHeaders(request);
                    return request;
                },
                $"verification of {file.PathInRepo}",
                cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task UploadMultipartAsync(RepoFile file, FileDigest digest, LfsAction upload, CancellationToken cancellationToken)
    {
        var chunkSize = upload.ChunkSize;
        var parts = upload.Parts;
        if (chunkSize <= 0 || parts.Count != (int)((digest.Size + chunkSize - 1) / chunkSize))
        {
            throw new HubPublishException(
                $"multipart upload of {file.PathInRepo}: the server gave {parts.Count} part URLs with chunk size {chunkSize} for {digest.Size} bytes");
        }

        _logger.LogInformation("Uploading {Path} ({Size:N0} bytes) in {Parts} parts", file.PathInRepo, digest.Size, parts.Count);
        var etags = new string[parts.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, parts.Count),
            new ParallelOptions { MaxDegreeOfParallelism = _concurrency, CancellationToken = cancellationToken },
            async (index, ct) =>
            {
                var (number, url) = parts[index];
                var offset = (number - 1) * chunkSize;
                var length = Math.Min(chunkSize, digest.Size - offset);
                using var response = await _http.SendAsync(
                    () => new HttpRequestMessage(HttpMethod.Put, url) { Content = new FileSliceContent(file.LocalPath, offset, length) },
                    $"upload of {file.PathInRepo} part {number}/{parts.Count}",
                    ct,
                    withToken: false).ConfigureAwait(false);
                etags[index] = response.Headers.ETag?.Tag
                    ?? (response.Headers.TryGetValues("ETag", out var raw) ? raw.First() : null)
                    ?? throw new HubPublishException($"upload of {file.PathInRepo} part {number}: the storage server sent no ETag");
                Interlocked.Add(ref _bytesSent, length);
            }).ConfigureAwait(false);

        var completion = new JsonObject
        {
            ["oid"] = digest.Sha256,
            ["parts"] = new JsonArray(parts.Select((p, i) => (JsonNode)new JsonObject { ["partNumber"] = p.Number, ["etag"] = etags[i] }).ToArray()),
        };
        using var done = await _http.SendAsync(
            () => HubClient.LfsPost(upload.Href, completion),
            $"completion of the multipart upload of {file.PathInRepo}",
            cancellationToken,
            withToken: false).ConfigureAwait(false);
    }
}

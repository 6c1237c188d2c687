using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distil.Hub;

/// <summary>
/// The Hub API calls a publish makes, for a dataset repository: create, preupload (which files go
/// through LFS), the LFS batch request, and the commit (NDJSON: header, regular files, LFS files).
/// </summary>
internal sealed class HubClient
{
    private readonly HubHttp _http;
    private readonly HubRepoId _repo;

    public HubClient(HubHttp http, HubRepoId repo)
    {
        _http = http;
        _repo = repo;
    }

    /// <summary>Creates the dataset repository; an existing one is fine. Returns true when it was created.</summary>
    public async Task<bool> CreateRepoAsync(bool isPrivate, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["name"] = _repo.Name,
            ["organization"] = _repo.Namespace,
            ["type"] = "dataset",
            ["private"] = isPrivate,
        };
        try
        {
            using var response = await _http.SendAsync(() => Post(Api("repos/create"), body), $"creating the dataset repository {_repo}", cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (HubPublishException e) when (e.StatusCode == (int)HttpStatusCode.Conflict)
        {
            return false;
        }
    }

    /// <summary>Asks which files must go through LFS. Returns path → true for LFS, false for regular; files the Hub ignores are left out.</summary>
    public async Task<IReadOnlyDictionary<string, bool>> PreuploadAsync(string revision, IReadOnlyList<(string Path, FileDigest Digest)> files, CancellationToken cancellationToken)
    {
        var modes = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var chunk in files.Chunk(250))
        {
            var body = new JsonObject
            {
                ["files"] = new JsonArray(chunk.Select(f => (JsonNode)new JsonObject
                {
                    ["path"] = f.Path,
                    ["sample"] = Convert.ToBase64String(f.Digest.Sample),
                    ["size"] = f.Digest.Size,
                    ["sha"] = f.Digest.Sha256,
                }).ToArray()),
            };
            using var json = await _http.SendForJsonAsync(() => Post(Api($"datasets/{_repo}/preupload/{Uri.EscapeDataString(revision)}"), body), "preupload", cancellationToken).ConfigureAwait(false);
            if (!json.RootElement.TryGetProperty("files", out var answered) || answered.ValueKind != JsonValueKind.Array)
            {
                throw new HubPublishException("preupload: the server's answer has no 'files' list");
            }

            foreach (var file in answered.EnumerateArray())
            {
                var path = file.GetProperty("path").GetString()!;
                var mode = file.TryGetProperty("uploadMode", out var m) ? m.GetString() : null;
                if (mode is not ("lfs" or "regular"))
                {
                    throw new HubPublishException($"preupload: unknown upload mode '{mode}' for {path}");
                }

                if (file.TryGetProperty("shouldIgnore", out var ignore) && ignore.ValueKind == JsonValueKind.True)
                {
                    continue;
                }

                modes[path] = mode == "lfs";
            }
        }

        return modes;
    }

    /// <summary>The LFS batch request: per object, the upload and verify actions, or none when the server already has it.</summary>
    public async Task<IReadOnlyList<LfsObjectActions>> LfsBatchAsync(string revision, IReadOnlyList<FileDigest> objects, CancellationToken cancellationToken)
    {
        var result = new List<LfsObjectActions>();
        foreach (var chunk in objects.DistinctBy(o => o.Sha256).Chunk(100))
        {
            var body = new JsonObject
            {
                ["operation"] = "upload",
                ["transfers"] = new JsonArray("basic", "multipart"),
                ["objects"] = new JsonArray(chunk.Select(o => (JsonNode)new JsonObject { ["oid"] = o.Sha256, ["size"] = o.Size }).ToArray()),
                ["hash_algo"] = "sha256",
                ["ref"] = new JsonObject { ["name"] = revision },
            };
            var url = new Uri(_http.Endpoint, $"datasets/{_repo}.git/info/lfs/objects/batch");
            using var json = await _http.SendForJsonAsync(
                () => LfsPost(url, body),
                "LFS batch request",
                cancellationToken).ConfigureAwait(false);
            if (!json.RootElement.TryGetProperty("objects", out var answered) || answered.ValueKind != JsonValueKind.Array)
            {
                throw new HubPublishException("LFS batch request: the server's answer has no 'objects' list");
            }

            foreach (var item in answered.EnumerateArray())
            {
                result.Add(LfsObjectActions.Parse(item));
            }
        }

        return result;
    }

    /// <summary>The commit sha at the head of <paramref name="revision"/>; null when the repository has no such branch yet.</summary>
    public async Task<string?> GetHeadAsync(string revision, CancellationToken cancellationToken)
    {
        try
        {
            using var json = await _http.SendForJsonAsync(
                () => new HttpRequestMessage(HttpMethod.Get, Api($"datasets/{_repo}/revision/{Uri.EscapeDataString(revision)}")),
                $"reading the head of {_repo}@{revision}",
                cancellationToken).ConfigureAwait(false);
            return json.RootElement.TryGetProperty("sha", out var sha) ? sha.GetString() : null;
        }
        catch (HubPublishException e) when (e.StatusCode == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// The newest commit on <paramref name="revision"/> whose message contains <paramref name="marker"/> (the Hub lists
    /// a branch's commits newest first; the first page is searched, which holds the commits of the last minutes of any
    /// normally busy repository); null when none does or the branch does not exist yet.
    /// </summary>
    public async Task<string?> FindCommitAsync(string revision, string marker, CancellationToken cancellationToken)
    {
        try
        {
            using var json = await _http.SendForJsonAsync(
                () => new HttpRequestMessage(HttpMethod.Get, Api($"datasets/{_repo}/commits/{Uri.EscapeDataString(revision)}")),
                $"listing the commits of {_repo}@{revision}",
                cancellationToken).ConfigureAwait(false);
            if (json.RootElement.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            foreach (var commit in json.RootElement.EnumerateArray())
            {
                var text = $"{Text(commit, "title")}\n{Text(commit, "message")}";
                if (text.Contains(marker, StringComparison.Ordinal) && Text(commit, "id") is { Length: > 0 } id)
                {
                    return id;
                }
            }

            return null;
        }
        catch (HubPublishException e) when (e.StatusCode == (int)HttpStatusCode.NotFound)
        {
            return null;
        }

        static string? Text(JsonElement commit, string name) =>
            commit.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>The web page of a commit, as the Hub's commit answer spells it.</summary>
    public string CommitUrl(string commitOid) => new Uri(_http.Endpoint, $"datasets/{_repo}/commit/{commitOid}").ToString();

    /// <summary>
    /// Makes everything visible at once: one commit with the regular files inline and the LFS files by oid. With
    /// <paramref name="parentCommit"/>, the Hub refuses the commit (412) when the branch moved past that commit.
    /// </summary>
    public async Task<(string? CommitUrl, string? CommitOid)> CommitAsync(
        string revision,
        string summary,
        IReadOnlyList<RepoFile> regularFiles,
        IReadOnlyList<(string Path, FileDigest Digest)> lfsFiles,
        CancellationToken cancellationToken,
        string description = "",
        string? parentCommit = null)
    {
        var lines = new StringBuilder();
        void Line(string key, JsonObject value) =>
            lines.Append(new JsonObject { ["key"] = key, ["value"] = value }.ToJsonString()).Append('\n');

        var header = new JsonObject { ["summary"] = summary, ["description"] = description };
        if (parentCommit is not null)
        {
            header["parentCommit"] = parentCommit;
        }

        Line("header", header);
        foreach (var file in regularFiles)
        {
            var content = Convert.ToBase64String(await File.ReadAllBytesAsync(file.LocalPath, cancellationToken).ConfigureAwait(false));
            Line("file", new JsonObject { ["content"] = content, ["path"] = file.PathInRepo, ["encoding"] = "base64" });
        }

        foreach (var (path, digest) in lfsFiles)
        {
            Line("lfsFile", new JsonObject { ["path"] = path, ["algo"] = "sha256", ["oid"] = digest.Sha256, ["size"] = digest.Size });
        }

        var payload = Encoding.UTF8.GetBytes(lines.ToString());
        using var json = await _http.SendForJsonAsync(
            () => new HttpRequestMessage(HttpMethod.Post, Api($"datasets/{_repo}/commit/{Uri.EscapeDataString(revision)}"))
            {
                Content = new ByteArrayContent(payload) { Headers = { ContentType = new MediaTypeHeaderValue("application/x-ndjson") } },
            },
            "commit",
            cancellationToken).ConfigureAwait(false);
        var root = json.RootElement;
        return (
            root.TryGetProperty("commitUrl", out var url) ? url.GetString() : null,
            root.TryGetProperty("commitOid", out var oid) ? oid.GetString() : null);
    }

    private Uri Api(string path) => new(_http.Endpoint, "api/" + path);

    /// <summary>A POST of the Git LFS API, which wants its own media type both ways.</summary>
    internal static HttpRequestMessage LfsPost(Uri url, JsonNode body)
    {
        const string LfsMediaType = "application/vnd.git-lfs+json";
        var request = Post(url, body, LfsMediaType);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(LfsMediaType));
        return request;
    }

    internal static HttpRequestMessage Post(Uri url, JsonNode body, string mediaType = "application/json") =>
        new(HttpMethod.Post, url)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue(mediaType)),
        };
}

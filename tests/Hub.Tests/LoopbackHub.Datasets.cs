using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Distil.Hub.Tests;

/// <summary>
/// The read side of the loopback hub, as the Hub answers it: a dataset's info at a revision (its commit sha and
/// the card's <c>configs</c>), the recursive tree at a commit in pages linked by <c>Link: rel="next"</c>, and
/// <c>resolve/&lt;sha&gt;/&lt;path&gt;</c>, which redirects LFS files (Parquet) to a signed storage URL that serves byte
/// ranges. Anonymous reads of public datasets are allowed; private ones need the token. Every download is
/// recorded with its Range header, so tests can count what was fetched.
/// </summary>
public sealed partial class LoopbackHub
{
    private const string FaultKey = "download-fault";

    private readonly ConcurrentDictionary<string, DatasetRepo> _datasets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _lfsObjects = new(StringComparer.Ordinal);
    private long _bytesServed;
    private int _commits;

    /// <summary>Entries per page of the tree listing.</summary>
    public int TreePageSize { get; set; } = 1000;

    /// <summary>File downloads (storage and non-LFS resolve) as (path in the repo, Range header or null), in arrival order.</summary>
    public ConcurrentQueue<(string Path, string? Range)> Downloads { get; } = new();

    /// <summary>File body bytes sent, including those of dropped connections.</summary>
    public long BytesServed => Interlocked.Read(ref _bytesServed);

    /// <summary>Commits <paramref name="files"/> as the whole content of <paramref name="branch"/> of dataset <paramref name="id"/>; returns the commit sha.</summary>
    /// <param name="cardConfigs">The card's <c>configs</c> list as JSON, or null for a card without one.</param>
    public string AddDataset(string id, IReadOnlyDictionary<string, byte[]> files, bool isPrivate = false, string? cardConfigs = null, string branch = "main")
    {
        var repo = _datasets.GetOrAdd(id, _ => new DatasetRepo(isPrivate));
        var sha = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{id}\n{branch}\n{Interlocked.Increment(ref _commits)}")));
        foreach (var (path, bytes) in files.Where(f => IsLfs(f.Key)))
        {
            _lfsObjects[Sha256(bytes)] = bytes;
        }

        repo.Commits[sha] = new DatasetCommit(sha, new Dictionary<string, byte[]>(files, StringComparer.Ordinal), cardConfigs is null ? null : JsonNode.Parse(cardConfigs));
        repo.Branches[branch] = sha;
        return sha;
    }

    /// <summary>A published commit becomes readable (info, tree, files at its sha and branch) and listed in the branch's commits.</summary>
    private void RecordPublishedCommit(string id, string branch, string sha, HubRepo published, string title, string message)
    {
        var repo = _datasets.GetOrAdd(id, _ => new DatasetRepo(published.Private));
        var files = new Dictionary<string, byte[]>(published.Files, StringComparer.Ordinal);
        foreach (var (path, bytes) in files.Where(f => IsLfs(f.Key)))
        {
            _lfsObjects[Sha256(bytes)] = bytes;
        }

        repo.Commits[sha] = new DatasetCommit(sha, files, null);
        repo.Branches[branch] = sha;
        lock (repo.Log)
        {
            repo.Log.Insert(0, (branch, sha, title, message));
        }
    }

    /// <summary>The branch's commits, newest first, as the Hub's commits endpoint lists them.</summary>
    private IResult CommitList(HttpContext context, string id, string revision)
    {
        if (Find(context, id, out var repo) is { } refused)
        {
            return refused;
        }

        if (!repo!.Branches.ContainsKey(revision))
        {
            return Results.Json(new { error = "Revision Not Found" }, statusCode: 404);
        }

        lock (repo.Log)
        {
            return Results.Json(repo.Log.Where(c => c.Branch == revision).Select(c => new { id = c.Sha, title = c.Title, message = c.Message }).ToList());
        }
    }

    private static bool IsAnonymousRead(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) && request.Headers.Authorization.Count == 0
        && (request.Path.StartsWithSegments("/api/datasets") || request.Path.StartsWithSegments("/datasets"));

    private void MapDatasetReads(WebApplication app)
    {
        app.MapGet("/api/datasets/{ns}/{name}", (HttpContext c, string ns, string name) => Info(c, $"{ns}/{name}", "main"));
        app.MapGet("/api/datasets/{ns}/{name}/revision/{**revision}", (HttpContext c, string ns, string name, string revision) => Info(c, $"{ns}/{name}", Uri.UnescapeDataString(revision)));
        app.MapGet("/api/datasets/{ns}/{name}/commits/{**revision}", (HttpContext c, string ns, string name, string revision) => CommitList(c, $"{ns}/{name}", Uri.UnescapeDataString(revision)));
        app.MapGet("/api/datasets/{ns}/{name}/tree/{revision}/{**path}", (HttpContext c, string ns, string name, string revision, string? path) => Tree(c, $"{ns}/{name}", Uri.UnescapeDataString(revision), path ?? ""));
        app.MapGet("/datasets/{ns}/{name}/resolve/{revision}/{**path}", ResolveAsync);
        app.MapGet("/storage/lfs/{oid}", (HttpContext c, string oid) => _lfsObjects.TryGetValue(oid, out var bytes)
            ? ServeAsync(c, bytes, oid)
            : Task.FromResult(Results.NotFound()));
    }

    private IResult Info(HttpContext context, string id, string revision)
    {
        if (Find(context, id, out var repo) is { } refused)
        {
            return refused;
        }

        if (repo!.Resolve(revision) is not { } commit)
        {
            return Results.Json(new { error = "Revision Not Found" }, statusCode: 404);
        }

        var info = new JsonObject
        {
            ["id"] = id,
            ["sha"] = commit.Sha,
            ["private"] = repo.Private,
            ["siblings"] = new JsonArray(commit.Files.Keys.Order(StringComparer.Ordinal).Select(p => (JsonNode)new JsonObject { ["rfilename"] = p }).ToArray()),
        };
        if (commit.CardConfigs is not null)
        {
            info["cardData"] = new JsonObject { ["configs"] = commit.CardConfigs.DeepClone() };
        }

        return Results.Text(info.ToJsonString(), "application/json");
    }

    private IResult Tree(HttpContext context, string id, string revision, string path)
    {
        if (Find(context, id, out var repo) is { } refused)
        {
            return refused;
        }

        if (repo!.Resolve(revision) is not { } commit)
        {
            return Results.Json(new { error = "Revision Not Found" }, statusCode: 404);
        }

        if (context.Request.Query["recursive"] != "true")
        {
            return Bad("tree: this loopback hub lists recursively only");
        }

        var prefix = path.Length == 0 ? "" : path.TrimEnd('/') + "/";
        var entries = new List<JsonObject>();
        foreach (var folder in commit.Files.Keys.Where(p => p.StartsWith(prefix, StringComparison.Ordinal))
                     .SelectMany(p => Folders(p)).Distinct().Where(f => f.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            entries.Add(new JsonObject { ["type"] = "directory", ["oid"] = GitOid(Encoding.UTF8.GetBytes(folder)), ["size"] = 0, ["path"] = folder });
        }

        foreach (var (file, bytes) in commit.Files.Where(f => f.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var entry = new JsonObject { ["type"] = "file", ["oid"] = GitOid(bytes), ["size"] = bytes.Length, ["path"] = file };
            if (IsLfs(file))
            {
                entry["lfs"] = new JsonObject { ["oid"] = Sha256(bytes), ["size"] = bytes.Length, ["pointerSize"] = 134 };
            }

            entries.Add(entry);
        }

        var start = int.TryParse(context.Request.Query["cursor"], CultureInfo.InvariantCulture, out var cursor) ? cursor : 0;
        var page = entries.Skip(start).Take(TreePageSize).ToArray<JsonNode>();
        if (start + TreePageSize < entries.Count)
        {
            context.Response.Headers.Link = $"<{Endpoint}/api/datasets/{id}/tree/{revision}{(path.Length == 0 ? "" : "/" + path)}?recursive=true&expand=false&cursor={start + TreePageSize}>; rel=\"next\"";
        }

        return Results.Text(new JsonArray(page).ToJsonString(), "application/json");
    }

    private async Task<IResult> ResolveAsync(HttpContext context, string ns, string name, string revision, string path)
    {
        if (Find(context, $"{ns}/{name}", out var repo) is { } refused)
        {
            return refused;
        }

        if (repo!.Resolve(Uri.UnescapeDataString(revision)) is not { } commit || !commit.Files.TryGetValue(path, out var bytes))
        {
            return Results.Json(new { error = "Entry not found" }, statusCode: 404);
        }

        context.Response.Headers["X-Repo-Commit"] = commit.Sha;
        if (IsLfs(path))
        {
            // As on the Hub, LFS content lives on a storage host behind a signed URL; the token must not follow the redirect.
            return Results.Redirect($"{Endpoint}/storage/lfs/{Sha256(bytes)}?X-Signature=sig&path={Uri.EscapeDataString(path)}");
        }

        return await ServeAsync(context, bytes, path);
    }

    /// <summary>Sends <paramref name="bytes"/> or the range asked for (bytes=N- or bytes=N-M) with 206 and Content-Range.</summary>
    private async Task<IResult> ServeAsync(HttpContext context, byte[] bytes, string what)
    {
        var range = context.Request.Headers.Range.FirstOrDefault();
        Downloads.Enqueue((context.Request.Query["path"].FirstOrDefault() ?? what, range));
        long from = 0;
        long to = bytes.Length - 1;
        if (range is not null)
        {
            var spec = range.StartsWith("bytes=", StringComparison.Ordinal) ? range["bytes=".Length..].Split('-') : [];
            if (spec.Length != 2 || !long.TryParse(spec[0], CultureInfo.InvariantCulture, out from) || from >= bytes.Length
                || (spec[1].Length > 0 && (!long.TryParse(spec[1], CultureInfo.InvariantCulture, out to) || to < from)))
            {
                context.Response.Headers.ContentRange = $"bytes */{bytes.Length}";
                return Results.StatusCode(416);
            }

            to = Math.Min(to, bytes.Length - 1);
            context.Response.StatusCode = 206;
            context.Response.Headers.ContentRange = $"bytes {from}-{to}/{bytes.Length}";
        }

        var length = (int)(to - from + 1);
        context.Response.ContentType = "application/octet-stream";
        if (context.Items.TryGetValue(FaultKey, out var fault))
        {
            var half = length / 2;
            context.Response.ContentLength = (FaultKind)fault! == FaultKind.TruncateResponse ? half : length;
            await context.Response.Body.WriteAsync(bytes.AsMemory((int)from, half));
            await context.Response.Body.FlushAsync();
            Interlocked.Add(ref _bytesServed, half);
            if ((FaultKind)fault! == FaultKind.DropResponseMidBody)
            {
                // Gives the transport a moment to send what was written (an abort discards unsent output), then resets.
                await Task.Delay(50);
                context.Abort();
            }

            return Results.Empty;
        }

        context.Response.ContentLength = length;

        await context.Response.Body.WriteAsync(bytes.AsMemory((int)from, length));
        Interlocked.Add(ref _bytesServed, length);
        return Results.Empty;
    }

    /// <summary>Null when the caller may read the dataset; otherwise the Hub's answer (401 for anonymous callers, so a private repo looks missing).</summary>
    private IResult? Find(HttpContext context, string id, out DatasetRepo? repo)
    {
        var authorized = context.Request.Headers.Authorization.FirstOrDefault() == $"Bearer {_token}";
        if (_datasets.TryGetValue(id, out repo) && (!repo.Private || authorized))
        {
            return null;
        }

        return authorized
            ? Results.Json(new { error = "Repository not found" }, statusCode: 404)
            : Results.Json(new { error = "Invalid username or password." }, statusCode: 401);
    }

    private static IEnumerable<string> Folders(string path)
    {
        var parts = path.Split('/');
        for (var i = 1; i < parts.Length; i++)
        {
            yield return string.Join('/', parts[..i]);
        }
    }

    private static bool IsLfs(string path) => path.EndsWith(".parquet", StringComparison.Ordinal);

    private static string GitOid(byte[] bytes) => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {bytes.Length}\0"), .. bytes]));

    private sealed class DatasetRepo(bool isPrivate)
    {
        public bool Private { get; } = isPrivate;

        public ConcurrentDictionary<string, string> Branches { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<string, DatasetCommit> Commits { get; } = new(StringComparer.Ordinal);

        /// <summary>Published commits, newest first.</summary>
        public List<(string Branch, string Sha, string Title, string Message)> Log { get; } = [];

        public DatasetCommit? Resolve(string revision) =>
            Branches.TryGetValue(revision, out var sha) ? Commits[sha] : Commits.TryGetValue(revision, out var commit) ? commit : null;
    }

    private sealed record DatasetCommit(string Sha, IReadOnlyDictionary<string, byte[]> Files, JsonNode? CardConfigs);
}

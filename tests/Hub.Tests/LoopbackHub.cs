using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Distil.Hub.Tests;

/// <summary>
/// A Hub-compatible server on 127.0.0.1 (random port) that implements what a publish calls — repo
/// creation, preupload, the LFS batch API with basic and multipart transfers, verify, the NDJSON commit —
/// stores what it receives, and checks every request: the token on Hub routes and never on storage URLs,
/// SHA-256 and size of LFS uploads, part ETags, NDJSON line order and base64 content. Anything wrong is
/// answered with an error and recorded in <see cref="Violations"/>. Failures can be injected per request.
/// It also serves datasets for reading (see LoopbackHub.Datasets.cs).
/// </summary>
public sealed partial class LoopbackHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _token;
    private readonly ConcurrentDictionary<string, HubRepo> _repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PendingUpload> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Fault> _faults = new();
    private long _storageBytes;

    private LoopbackHub(WebApplication app, string token)
    {
        _app = app;
        _token = token;
    }

    public string Endpoint { get; private set; } = "";

    /// <summary>Objects larger than this get a multipart upload.</summary>
    public long MultipartThreshold { get; set; } = long.MaxValue;

    public long ChunkSize { get; set; } = 64 * 1024;

    public ConcurrentQueue<string> Violations { get; } = new();

    /// <summary>Every request as "METHOD path" in arrival order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Every Authorization header value received, to show where the token went. Paths under /storage stand for the signed URLs of an object store.</summary>
    public ConcurrentQueue<(string Path, string? Authorization)> AuthorizationHeaders { get; } = new();

    /// <summary>Body bytes received on storage (LFS upload) URLs, including failed attempts.</summary>
    public long StorageBytesReceived => Interlocked.Read(ref _storageBytes);

    public int MultipartCompletions { get; private set; }

    /// <summary>Awaited after a commit is applied and before it is answered: a test holds it to kill the committer in between.</summary>
    public Func<Task>? AfterCommit { get; set; }

    public IReadOnlyDictionary<string, HubRepo> Repos => _repos;

    public static async Task<LoopbackHub> StartAsync(string token)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        var hub = new LoopbackHub(app, token);
        hub.Map(app);
        await app.StartAsync();
        hub.Endpoint = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return hub;
    }

    /// <summary>The next request matching <paramref name="match"/> fails with <paramref name="kind"/> (once).</summary>
    public void FailNext(Func<HttpRequest, bool> match, FaultKind kind, int times = 1)
    {
        for (var i = 0; i < times; i++)
        {
            _faults.Enqueue(new Fault(match, kind));
        }
    }

    public HubRepo Repo(string id) => _repos.TryGetValue(id, out var repo) ? repo : throw new KeyNotFoundException($"no repo {id} on the loopback hub");

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            Requests.Enqueue($"{context.Request.Method} {context.Request.Path}");
            AuthorizationHeaders.Enqueue((context.Request.Path, context.Request.Headers.Authorization.FirstOrDefault()));
            if (TakeFault(context.Request) is { } kind)
            {
                if (kind is FaultKind.DropResponseMidBody or FaultKind.TruncateResponse)
                {
                    // The file handler sends half of what was asked, then drops the connection or ends the response.
                    context.Items[FaultKey] = kind;
                    await next(context);
                    return;
                }

                await InjectAsync(context, kind);
                return;
            }

            var isStorage = context.Request.Path.StartsWithSegments("/storage");
            if (isStorage && context.Request.Headers.Authorization.Count > 0)
            {
                Violation($"{context.Request.Path}: the Hub token was sent to a storage URL");
            }

            if (!isStorage && !IsAnonymousRead(context.Request) && context.Request.Headers.Authorization.FirstOrDefault() != $"Bearer {_token}")
            {
                context.Response.StatusCode = 401;
                await context.Response.WriteAsJsonAsync(new { error = "Invalid credentials in Authorization header" });
                return;
            }

            await next(context);
        });

        // As a route handler (not a RequestDelegate), so the IResult it returns is written to the response.
        app.MapPost("/api/repos/create", (Delegate)CreateRepoAsync);
        app.MapPost("/api/datasets/{ns}/{name}/preupload/{revision}", PreuploadAsync);
        app.MapPost("/datasets/{ns}/{repo}/info/lfs/objects/batch", BatchAsync);
        app.MapPut("/storage/{upload}/basic", PutBasicAsync);
        app.MapPut("/storage/{upload}/part/{part:int}", PutPartAsync);
        app.MapPost("/storage/{upload}/complete", CompleteAsync);
        app.MapPost("/lfs/verify/{ns}/{name}", VerifyAsync);
        app.MapPost("/api/datasets/{ns}/{name}/commit/{revision}", CommitAsync);
        MapDatasetReads(app);
    }

    private async Task<IResult> CreateRepoAsync(HttpContext context)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body);
        var type = (string?)body?["type"];
        var name = (string?)body?["name"];
        var organization = (string?)body?["organization"];
        if (type != "dataset" || string.IsNullOrEmpty(name) || string.IsNullOrEmpty(organization))
        {
            return Bad($"create: expected type dataset, name and organization, got {body?.ToJsonString()}");
        }

        var repo = new HubRepo((bool?)body?["private"] ?? false);
        return _repos.TryAdd($"{organization}/{name}", repo)
            ? Results.Json(new { url = $"{Endpoint}/datasets/{organization}/{name}" })
            : Results.Json(new { error = "You already created this dataset repo" }, statusCode: 409);
    }

    private async Task<IResult> PreuploadAsync(HttpContext context, string ns, string name, string revision)
    {
        if (!_repos.ContainsKey($"{ns}/{name}"))
        {
            return Results.Json(new { error = "Repository not found" }, statusCode: 404);
        }

        var body = await JsonNode.ParseAsync(context.Request.Body);
        var answer = new JsonArray();
        foreach (var file in body?["files"]?.AsArray() ?? [])
        {
            var path = (string?)file?["path"];
            var size = (long?)file?["size"];
            byte[] sample;
            try
            {
                sample = Convert.FromBase64String((string?)file?["sample"] ?? "!");
            }
            catch (FormatException)
            {
                return Bad($"preupload: sample of {path} is not base64");
            }

            if (path is null || size is null || sample.Length > 512 || sample.Length > size)
            {
                return Bad($"preupload: bad file entry {file?.ToJsonString()}");
            }

            var lfs = path.EndsWith(".parquet", StringComparison.Ordinal) || size > 10_000_000 || sample.Contains((byte)0);
            answer.Add(new JsonObject { ["path"] = path, ["uploadMode"] = lfs ? "lfs" : "regular", ["shouldIgnore"] = false });
        }

        return Results.Json(new JsonObject { ["files"] = answer });
    }

    private async Task<IResult> BatchAsync(HttpContext context, string ns, string repo)
    {
        if (!repo.EndsWith(".git", StringComparison.Ordinal) || !_repos.TryGetValue($"{ns}/{repo[..^4]}", out var target))
        {
            return Results.Json(new { message = "Repository not found" }, statusCode: 404);
        }

        if (context.Request.ContentType?.StartsWith("application/vnd.git-lfs+json", StringComparison.Ordinal) != true
            || !context.Request.Headers.Accept.ToString().Contains("application/vnd.git-lfs+json", StringComparison.Ordinal))
        {
            return Bad("LFS batch: Accept and Content-Type must be application/vnd.git-lfs+json");
        }

        var body = await JsonNode.ParseAsync(context.Request.Body);
        var transfers = body?["transfers"]?.AsArray().Select(t => (string?)t).ToList() ?? [];
        if ((string?)body?["operation"] != "upload" || !transfers.Contains("basic") || (string?)body?["hash_algo"] != "sha256")
        {
            return Bad($"LFS batch: expected an upload with basic transfer and sha256, got {body?.ToJsonString()}");
        }

        var multipart = transfers.Contains("multipart");
        var objects = new JsonArray();
        foreach (var item in body?["objects"]?.AsArray() ?? [])
        {
            var oid = (string)item!["oid"]!;
            var size = (long)item["size"]!;
            var answer = new JsonObject { ["oid"] = oid, ["size"] = size };
            if (!target.Objects.ContainsKey(oid))
            {
                var id = Guid.NewGuid().ToString("N");
                _uploads[id] = new PendingUpload(target, oid, size);
                var verify = new JsonObject { ["href"] = $"{Endpoint}/lfs/verify/{ns}/{repo[..^4]}" };
                if (multipart && size > MultipartThreshold)
                {
                    var header = new JsonObject { ["chunk_size"] = ChunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture) };
                    var parts = (int)((size + ChunkSize - 1) / ChunkSize);
                    for (var p = 1; p <= parts; p++)
                    {
                        header[p.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)] = $"{Endpoint}/storage/{id}/part/{p}?X-Signature=sig{p}";
                    }

                    answer["actions"] = new JsonObject { ["upload"] = new JsonObject { ["href"] = $"{Endpoint}/storage/{id}/complete?X-Signature=sig", ["header"] = header }, ["verify"] = verify };
                }
                else
                {
                    answer["actions"] = new JsonObject { ["upload"] = new JsonObject { ["href"] = $"{Endpoint}/storage/{id}/basic?X-Signature=sig" }, ["verify"] = verify };
                }
            }

            objects.Add(answer);
        }

        var transfer = multipart && objects.Any(o => o?["actions"]?["upload"]?["header"]?["chunk_size"] is not null) ? "multipart" : "basic";
        return Results.Text(new JsonObject { ["transfer"] = transfer, ["objects"] = objects }.ToJsonString(), "application/vnd.git-lfs+json");
    }

    private async Task<IResult> PutBasicAsync(HttpContext context, string upload)
    {
        if (!_uploads.TryGetValue(upload, out var pending))
        {
            return Bad($"PUT to unknown upload {upload}");
        }

        var bytes = await ReadBodyAsync(context);
        if (bytes.Length != pending.Size || Sha256(bytes) != pending.Oid)
        {
            return Bad($"basic upload {pending.Oid}: got {bytes.Length} bytes with sha256 {Sha256(bytes)}, expected {pending.Size} bytes");
        }

        pending.Repo.Objects[pending.Oid] = bytes;
        return Results.Ok();
    }

    private async Task<IResult> PutPartAsync(HttpContext context, string upload, int part)
    {
        if (!_uploads.TryGetValue(upload, out var pending))
        {
            return Bad($"PUT to unknown upload {upload}");
        }

        var bytes = await ReadBodyAsync(context);
        var parts = (int)((pending.Size + ChunkSize - 1) / ChunkSize);
        var expected = part < parts ? ChunkSize : pending.Size - ((parts - 1) * ChunkSize);
        if (part < 1 || part > parts || bytes.Length != expected)
        {
            return Bad($"part {part} of {pending.Oid}: {bytes.Length} bytes, expected {expected}");
        }

        var etag = $"\"{Sha256(bytes)[..16]}\"";
        pending.Parts[part] = (bytes, etag);
        context.Response.Headers.ETag = etag;
        return Results.Ok();
    }

    private async Task<IResult> CompleteAsync(HttpContext context, string upload)
    {
        if (!_uploads.TryGetValue(upload, out var pending))
        {
            return Bad($"completion of unknown upload {upload}");
        }

        var body = await JsonNode.ParseAsync(context.Request.Body);
        var parts = body?["parts"]?.AsArray() ?? [];
        if ((string?)body?["oid"] != pending.Oid || parts.Count != pending.Parts.Count)
        {
            return Bad($"completion of {pending.Oid}: {body?.ToJsonString()} does not match the {pending.Parts.Count} parts received");
        }

        using var all = new MemoryStream();
        var expectedNumber = 1;
        foreach (var part in parts)
        {
            var number = (int)part!["partNumber"]!;
            if (number != expectedNumber++ || !pending.Parts.TryGetValue(number, out var stored) || stored.ETag != (string?)part["etag"])
            {
                return Bad($"completion of {pending.Oid}: part {number} has a wrong number or ETag");
            }

            all.Write(stored.Bytes);
        }

        var bytes = all.ToArray();
        if (bytes.Length != pending.Size || Sha256(bytes) != pending.Oid)
        {
            return Bad($"completion of {pending.Oid}: assembled {bytes.Length} bytes with another sha256");
        }

        pending.Repo.Objects[pending.Oid] = bytes;
        MultipartCompletions++;
        return Results.Ok();
    }

    private async Task<IResult> VerifyAsync(HttpContext context, string ns, string name)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body);
        var oid = (string?)body?["oid"];
        var size = (long?)body?["size"];
        return oid is not null && Repo($"{ns}/{name}").Objects.TryGetValue(oid, out var bytes) && bytes.Length == size
            ? Results.Ok()
            : Results.Json(new { message = $"object {oid} not found" }, statusCode: 404);
    }

    private async Task<IResult> CommitAsync(HttpContext context, string ns, string name, string revision)
    {
        if (!_repos.TryGetValue($"{ns}/{name}", out var repo))
        {
            return Results.Json(new { error = "Repository not found" }, statusCode: 404);
        }

        if (context.Request.ContentType != "application/x-ndjson")
        {
            return Bad($"commit: content type {context.Request.ContentType}, expected application/x-ndjson");
        }

        var text = Encoding.UTF8.GetString(await ReadBodyAsync(context));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var staged = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var stage = 0;
        foreach (var (line, index) in lines.Select((l, i) => (l, i)))
        {
            var node = JsonNode.Parse(line);
            var key = (string?)node?["key"];
            var value = node?["value"];
            var order = key switch { "header" => 0, "file" => 1, "lfsFile" => 2, _ => -1 };
            if (order < 0 || (index == 0) != (order == 0) || order < stage)
            {
                return Bad($"commit line {index + 1}: '{key}' out of order (header, then files, then lfsFiles)");
            }

            stage = order;
            switch (key)
            {
                case "header" when string.IsNullOrEmpty((string?)value?["summary"]):
                    return Bad("commit: the header has no summary");
                case "file":
                    if ((string?)value?["encoding"] != "base64")
                    {
                        return Bad($"commit line {index + 1}: encoding must be base64");
                    }

                    try
                    {
                        staged[(string)value!["path"]!] = Convert.FromBase64String((string)value["content"]!);
                    }
                    catch (FormatException)
                    {
                        return Bad($"commit line {index + 1}: content is not base64");
                    }

                    break;
                case "lfsFile":
                    var oid = (string?)value?["oid"];
                    if ((string?)value?["algo"] != "sha256" || oid is null || !repo.Objects.TryGetValue(oid, out var stored) || stored.Length != (long?)value?["size"])
                    {
                        return Bad($"commit line {index + 1}: LFS object {oid} was never uploaded (or has another size)");
                    }

                    staged[(string)value!["path"]!] = stored;
                    break;
            }
        }

        if (stage == 0 && lines.Length == 0)
        {
            return Bad("commit: empty body");
        }

        var header = JsonNode.Parse(lines[0])!["value"]!;
        var commitOid = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{text}\n{Guid.NewGuid()}")));
        lock (repo)
        {
            // As the Hub does: a commit prepared against a head that has moved since is refused.
            var head = _datasets.TryGetValue($"{ns}/{name}", out var published) && published.Branches.TryGetValue(revision, out var sha) ? sha : null;
            if ((string?)header["parentCommit"] is { } parent && parent != head)
            {
                return Results.Json(new { error = $"parent commit {parent} is not the head of {revision} ({head ?? "none"})" }, statusCode: 412);
            }

            foreach (var (path, bytes) in staged)
            {
                repo.Files[path] = bytes;
            }

            repo.Commits.Add((string)header["summary"]!);
            RecordPublishedCommit($"{ns}/{name}", revision, commitOid, repo, (string)header["summary"]!, (string?)header["description"] ?? "");
        }

        if (AfterCommit is { } hold)
        {
            await hold();
        }

        return Results.Json(new { success = true, commitOid, commitUrl = $"{Endpoint}/datasets/{ns}/{name}/commit/{commitOid}" });
    }

    private async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        if (context.Request.Path.StartsWithSegments("/storage"))
        {
            Interlocked.Add(ref _storageBytes, buffer.Length);
        }

        return buffer.ToArray();
    }

    private FaultKind? TakeFault(HttpRequest request)
    {
        lock (_faults)
        {
            var kept = new List<Fault>();
            FaultKind? taken = null;
            while (_faults.TryDequeue(out var fault))
            {
                if (taken is null && fault.Match(request))
                {
                    taken = fault.Kind;
                }
                else
                {
                    kept.Add(fault);
                }
            }

            kept.ForEach(_faults.Enqueue);
            return taken;
        }
    }

    private async Task InjectAsync(HttpContext context, FaultKind kind)
    {
        switch (kind)
        {
            case FaultKind.ServiceUnavailable:
                await ReadBodyAsync(context);
                context.Response.StatusCode = 503;
                context.Response.Headers.RetryAfter = "0";
                await context.Response.WriteAsync("try again");
                break;
            case FaultKind.TooManyRequests:
                await ReadBodyAsync(context);
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = "1";
                break;
            case FaultKind.EchoAuthorization:
                await ReadBodyAsync(context);
                context.Response.StatusCode = 500;
                context.Response.Headers.RetryAfter = "0";
                await context.Response.WriteAsJsonAsync(new { error = $"internal error while handling {context.Request.Headers.Authorization}" });
                break;
            case FaultKind.DropConnectionMidBody:
                var buffer = new byte[1024];
                var read = await context.Request.Body.ReadAsync(buffer);
                Interlocked.Add(ref _storageBytes, read);
                context.Abort();
                break;
        }
    }

    private IResult Bad(string message)
    {
        Violation(message);
        return Results.Json(new { error = message }, statusCode: 400);
    }

    private void Violation(string message) => Violations.Enqueue(message);

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed record Fault(Func<HttpRequest, bool> Match, FaultKind Kind);

    private sealed record PendingUpload(HubRepo Repo, string Oid, long Size)
    {
        public ConcurrentDictionary<int, (byte[] Bytes, string ETag)> Parts { get; } = new();
    }
}

public enum FaultKind
{
    ServiceUnavailable,
    TooManyRequests,
    DropConnectionMidBody,

    /// <summary>A 500 whose body repeats the request's Authorization header, as a careless server might.</summary>
    EchoAuthorization,

    /// <summary>A file download that sends half the bytes asked for, then drops the connection (the client may or may not see those bytes).</summary>
    DropResponseMidBody,

    /// <summary>A file download whose response carries only the first half of the bytes asked for, as a cut transfer.</summary>
    TruncateResponse,
}

/// <summary>A repository on the loopback hub: its committed files, its LFS objects and its commits.</summary>
public sealed class HubRepo(bool isPrivate)
{
    public bool Private { get; } = isPrivate;

    public ConcurrentDictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, byte[]> Objects { get; } = new(StringComparer.Ordinal);

    public List<string> Commits { get; } = [];
}

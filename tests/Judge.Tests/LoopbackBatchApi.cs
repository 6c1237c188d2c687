using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Distil.Judge.Tests;

/// <summary>
/// The loopback server's batch API: <c>POST files</c> (multipart, purpose batch), <c>GET files/{id}/content</c>,
/// <c>POST batches</c>, <c>GET batches</c> (paged), <c>GET batches/{id}</c> and <c>POST batches/{id}/cancel</c>,
/// under <c>/v1</c> (OpenAI shape, bearer key) or under <c>/openai</c> (Azure OpenAI shape: every call must carry
/// <c>api-version</c> and an <c>api-key</c> header). A batch stays <c>in_progress</c> for <see cref="InProgressFor"/>,
/// then runs each line through the server's own completion logic; output lines come back in reverse order, so only
/// matching by <c>custom_id</c> pairs them right. Faults: per-request failures (<see cref="FailRequest"/>) and
/// whole-batch expiry (<see cref="ExpireFirst"/>: those batches answer only their even lines). It counts every
/// submission by the content of its input file, so tests can check that nothing was submitted twice.
/// </summary>
internal sealed class LoopbackBatchApi(LoopbackOpenAIServer server)
{
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Batch> _batches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _submissionsByContent = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private int _ids;
    private int _requests;

    /// <summary>How long a batch stays in progress before it is answered.</summary>
    public TimeSpan InProgressFor { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The status to fail a prompt's n-th appearance in a batch with (null: answer it).</summary>
    public Func<string, int, int?>? FailRequest { get; set; }

    /// <summary>The first this-many batches expire with only their even lines answered.</summary>
    public int ExpireFirst { get; set; }

    /// <summary>While true, new batches fail validation as a whole (status failed, with an error).</summary>
    public bool RefuseBatches { get; set; }

    /// <summary>Batches created.</summary>
    public int Submissions => _batches.Count;

    /// <summary>Batches created per distinct input file content: every value is 1 when nothing was submitted twice.</summary>
    public IReadOnlyDictionary<string, int> SubmissionsByContent => _submissionsByContent;

    /// <summary>The custom_ids of each batch's input file, in creation order.</summary>
    public IReadOnlyList<IReadOnlyList<string>> CustomIdsPerBatch => _batches.Values.OrderBy(b => b.Number).Select(b => (IReadOnlyList<string>)b.CustomIds).ToList();

    /// <summary>Batch GETs answered while a batch was still running.</summary>
    public int PollsInProgress => Volatile.Read(ref _pollsInProgress);

    private int _pollsInProgress;

    /// <summary>The api-version of the last Azure-shaped call, and the key header it carried.</summary>
    public (string? ApiVersion, string? ApiKey) LastAzureCall { get; private set; }

    public static bool Handles(HttpListenerRequest request) =>
        request.Url!.AbsolutePath.StartsWith("/v1/files", StringComparison.Ordinal) || request.Url.AbsolutePath.StartsWith("/v1/batches", StringComparison.Ordinal)
        || request.Url.AbsolutePath.StartsWith("/openai/", StringComparison.Ordinal);

    public async Task AnswerAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var path = request.Url!.AbsolutePath;
        if (path.StartsWith("/openai/", StringComparison.Ordinal))
        {
            LastAzureCall = (request.QueryString["api-version"], request.Headers["api-key"]);
            if (LastAzureCall.ApiVersion is null || LastAzureCall.ApiKey is null)
            {
                await Fail(context, 400, "Azure OpenAI calls need ?api-version= and an api-key header");
                return;
            }

            path = "/v1/" + path["/openai/".Length..];
        }

        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries); // v1, files|batches, id?, content|cancel?
        switch (request.HttpMethod, parts.Length > 1 ? parts[1] : "", parts.Length)
        {
            case ("POST", "files", 2):
                await UploadAsync(context);
                break;
            case ("GET", "files", 4) when parts[3] == "content" && _files.TryGetValue(parts[2], out var content):
                context.Response.ContentType = "application/jsonl";
                context.Response.ContentLength64 = content.Length;
                await context.Response.OutputStream.WriteAsync(content);
                context.Response.Close();
                break;
            case ("POST", "batches", 2):
                await CreateAsync(context);
                break;
            case ("GET", "batches", 2):
                await ListAsync(context);
                break;
            case ("GET", "batches", 3) when _batches.TryGetValue(parts[2], out var batch):
                if (!batch.IsFinished)
                {
                    Interlocked.Increment(ref _pollsInProgress);
                }

                await LoopbackOpenAIServer.Write(context, batch.Json());
                break;
            case ("POST", "batches", 4) when parts[3] == "cancel" && _batches.TryGetValue(parts[2], out var cancelled):
                cancelled.Cancel();
                await LoopbackOpenAIServer.Write(context, cancelled.Json());
                break;
            default:
                await Fail(context, 404, $"no such route: {request.HttpMethod} {request.Url.AbsolutePath}");
                break;
        }
    }

    private async Task UploadAsync(HttpListenerContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.InputStream.CopyToAsync(buffer);
        var boundary = "--" + context.Request.ContentType!.Split("boundary=")[1].Trim('"');
        string? purpose = null;
        byte[]? file = null;
        foreach (var part in Encoding.UTF8.GetString(buffer.ToArray()).Split(boundary))
        {
            var split = part.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (split < 0)
            {
                continue;
            }

            var headers = part[..split];
            var body = part[(split + 4)..];
            body = body.EndsWith("\r\n", StringComparison.Ordinal) ? body[..^2] : body;
            if (headers.Contains("name=purpose", StringComparison.Ordinal) || headers.Contains("name=\"purpose\"", StringComparison.Ordinal))
            {
                purpose = body;
            }
            else if (headers.Contains("name=file", StringComparison.Ordinal) || headers.Contains("name=\"file\"", StringComparison.Ordinal))
            {
                file = Encoding.UTF8.GetBytes(body);
            }
        }

        if (purpose != "batch" || file is null)
        {
            await Fail(context, 400, "an upload needs purpose=batch and a file part");
            return;
        }

        var id = "file-" + Interlocked.Increment(ref _ids);
        _files[id] = file;
        await LoopbackOpenAIServer.Write(context, JsonSerializer.Serialize(new { id, @object = "file", bytes = file.Length, purpose }));
    }

    private async Task CreateAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream);
        var request = JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement;
        var fileId = request.GetProperty("input_file_id").GetString()!;
        var expected = context.Request.Url!.AbsolutePath.StartsWith("/openai/", StringComparison.Ordinal) ? "/chat/completions" : "/v1/chat/completions";
        if (!_files.TryGetValue(fileId, out var input) || request.GetProperty("endpoint").GetString() != expected || request.GetProperty("completion_window").GetString() != "24h")
        {
            await Fail(context, 400, $"a batch needs a known input_file_id, endpoint {expected} and completion_window 24h");
            return;
        }

        var lines = Encoding.UTF8.GetString(input).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        if (lines.Any(l => l.GetProperty("url").GetString() != expected || l.GetProperty("method").GetString() != "POST"))
        {
            await Fail(context, 400, $"every line needs method POST and url {expected}");
            return;
        }

        var number = Interlocked.Increment(ref _ids);
        var batch = new Batch("batch_" + number, number, fileId, lines);
        _batches[batch.Id] = batch;
        _submissionsByContent.AddOrUpdate(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(input)), 1, (_, n) => n + 1);
        if (RefuseBatches)
        {
            batch.Status = "failed";
            batch.Errors = "line 1: the model does not exist";
        }
        else
        {
            _ = RunAsync(batch, expire: _batches.Count <= ExpireFirst);
        }

        await LoopbackOpenAIServer.Write(context, batch.Json());
    }

    private async Task ListAsync(HttpListenerContext context)
    {
        // Newest first, two per page, so that clients must follow has_more/after.
        var all = _batches.Values.OrderByDescending(b => b.Number).ToList();
        var after = context.Request.QueryString["after"];
        var start = after is null ? 0 : all.FindIndex(b => b.Id == after) + 1;
        var page = all.Skip(start).Take(2).ToList();
        await LoopbackOpenAIServer.Write(context, $$"""{"object": "list", "data": [{{string.Join(",", page.Select(b => b.Json()))}}], "has_more": {{(start + page.Count < all.Count ? "true" : "false")}}, "last_id": {{JsonSerializer.Serialize(page.LastOrDefault()?.Id)}}}""");
    }

    private async Task RunAsync(Batch batch, bool expire)
    {
        batch.Status = "in_progress";
        await Task.Delay(InProgressFor);
        var output = new List<string>();
        var errors = new List<string>();
        for (var i = 0; i < batch.Lines.Count; i++)
        {
            var line = batch.Lines[i];
            var customId = line.GetProperty("custom_id").GetString();
            if (batch.Cancelled || (expire && i % 2 == 1))
            {
                errors.Add(JsonSerializer.Serialize(new { id = "batch_req_" + i, custom_id = customId, response = (object?)null, error = new { code = "batch_expired", message = "This request could not be executed before the completion window expired." } }));
                continue;
            }

            var body = line.GetProperty("body");
            var attempt = _attempts.AddOrUpdate(LoopbackOpenAIServer.PromptOf(body), 1, (_, n) => n + 1);
            if (FailRequest?.Invoke(LoopbackOpenAIServer.PromptOf(body), attempt) is { } status)
            {
                errors.Add(JsonSerializer.Serialize(new { id = "batch_req_" + i, custom_id = customId, response = new { status_code = status, request_id = "req_" + i, body = new { error = new { message = "injected failure", type = "server_error" } } }, error = (object?)null }));
                continue;
            }

            var completion = server.Complete(body, Interlocked.Increment(ref _requests));
            output.Add($$"""{"id": "batch_req_{{i}}", "custom_id": {{JsonSerializer.Serialize(customId)}}, "response": {"status_code": 200, "request_id": "req_{{i}}", "body": {{completion}}}, "error": null}""");
        }

        output.Reverse();
        batch.OutputFileId = output.Count == 0 ? null : Store(output);
        batch.ErrorFileId = errors.Count == 0 ? null : Store(errors);
        batch.Status = batch.Cancelled ? "cancelled" : expire ? "expired" : "completed";
    }

    private string Store(List<string> lines)
    {
        var id = "file-" + Interlocked.Increment(ref _ids);
        _files[id] = Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n");
        return id;
    }

    private static async Task Fail(HttpListenerContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        await LoopbackOpenAIServer.Write(context, JsonSerializer.Serialize(new { error = new { message } }));
    }

    private sealed class Batch(string id, int number, string inputFileId, IReadOnlyList<JsonElement> lines)
    {
        public string Id { get; } = id;

        public int Number { get; } = number;

        public IReadOnlyList<JsonElement> Lines { get; } = lines;

        public List<string> CustomIds { get; } = lines.Select(l => l.GetProperty("custom_id").GetString()!).ToList();

        public volatile string Status = "validating";

        public volatile string? OutputFileId;

        public volatile string? ErrorFileId;

        public volatile bool Cancelled;

        public volatile string? Errors;

        public bool IsFinished => Status is "completed" or "failed" or "expired" or "cancelled";

        public void Cancel()
        {
            Cancelled = true;
            if (!IsFinished)
            {
                Status = "cancelling";
            }
        }

        public string Json() => JsonSerializer.Serialize(new
        {
            id = Id,
            @object = "batch",
            endpoint = "/v1/chat/completions",
            input_file_id = inputFileId,
            completion_window = "24h",
            status = Status,
            output_file_id = OutputFileId,
            error_file_id = ErrorFileId,
            created_at = 1,
            request_counts = new { total = Lines.Count },
            errors = Errors is null ? null : new { @object = "list", data = new[] { new { code = "invalid_request", message = Errors, line = 1 } } },
        });
    }
}

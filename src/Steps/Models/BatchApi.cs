using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Distil.Steps;

/// <summary>
/// A provider's batch API over HTTP: a JSONL file of requests uploaded (<c>POST files</c>, purpose <c>batch</c>), a
/// batch made of it (<c>POST batches</c>), read while it runs (<c>GET batches/{id}</c>), found again by its input
/// file (<c>GET batches</c>, paged), and its output and error files read line by line (<c>GET files/{id}/content</c>).
/// OpenAI shape: paths under the endpoint (…/v1), a bearer key, batch endpoint <c>/v1/chat/completions</c>.
/// Azure OpenAI shape (an <c>api_version</c> is set): the same paths under the resource's <c>/openai</c> base, each
/// with <c>?api-version=</c>, the key in an <c>api-key</c> header, batch endpoint <c>/chat/completions</c>.
/// Transient failures (429, 5xx, dropped connections) are retried up to <c>max_retries</c> times.
/// </summary>
internal sealed class BatchApi : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _base;
    private readonly string? _apiVersion;
    private readonly int _maxRetries;

    public BatchApi(Uri endpoint, string key, string? apiVersion, int maxRetries, TimeSpan timeout)
    {
        _http = new HttpClient { Timeout = timeout };
        if (apiVersion is null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        else
        {
            _http.DefaultRequestHeaders.Add("api-key", key);
        }

        _base = endpoint.AbsoluteUri.TrimEnd('/');
        _apiVersion = apiVersion;
        _maxRetries = maxRetries;

        // Each line's url and the batch's endpoint name the chat completions path as the provider spells it.
        ChatCompletionsPath = apiVersion is null ? endpoint.AbsolutePath.TrimEnd('/') + "/chat/completions" : "/chat/completions";
    }

    /// <summary>The path every line of a batch file and the batch itself name.</summary>
    public string ChatCompletionsPath { get; }

    /// <summary>Uploads a batch input file; returns its id.</summary>
    public async Task<string> UploadAsync(byte[] jsonl, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(
            () =>
            {
                var form = new MultipartFormDataContent { { new StringContent("batch"), "purpose" } };
                var file = new ByteArrayContent(jsonl);
                file.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
                form.Add(file, "file", "batch.jsonl");
                return new HttpRequestMessage(HttpMethod.Post, Url("files")) { Content = form };
            },
            cancellationToken).ConfigureAwait(false);
        using var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        return json.RootElement.GetProperty("id").GetString() ?? throw new InvalidDataException($"{Url("files")} answered an upload without a file id");
    }

    /// <summary>Creates the batch of an uploaded file (24-hour completion window).</summary>
    public async Task<BatchJob> CreateAsync(string inputFileId, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["input_file_id"] = inputFileId,
            ["endpoint"] = ChatCompletionsPath,
            ["completion_window"] = "24h",
        });

        // Not retried blindly: a create whose answer was lost may have made the batch, and a second would be paid twice.
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, Url("batches")) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") }, cancellationToken, retries: 0).ConfigureAwait(false);
        using var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        return BatchJob.Read(json.RootElement);
    }

    public async Task<BatchJob> GetAsync(string batchId, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, Url($"batches/{Uri.EscapeDataString(batchId)}")), cancellationToken).ConfigureAwait(false);
        using var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        return BatchJob.Read(json.RootElement);
    }

    /// <summary>The batch made of <paramref name="inputFileId"/>, if one was created (newest first, paged by <c>after</c>).</summary>
    public async Task<BatchJob?> FindByInputFileAsync(string inputFileId, CancellationToken cancellationToken)
    {
        string? after = null;
        while (true)
        {
            var query = after is null ? "batches?limit=100" : $"batches?limit=100&after={Uri.EscapeDataString(after)}";
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, Url(query)), cancellationToken).ConfigureAwait(false);
            using var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
            var root = json.RootElement;
            foreach (var batch in root.GetProperty("data").EnumerateArray())
            {
                if (batch.TryGetProperty("input_file_id", out var file) && file.GetString() == inputFileId)
                {
                    return BatchJob.Read(batch);
                }
            }

            if (!(root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True) || !root.TryGetProperty("last_id", out var last) || last.GetString() is not { } lastId)
            {
                return null;
            }

            after = lastId;
        }
    }

    /// <summary>The lines of a result file, parsed one at a time as they stream in.</summary>
    public async IAsyncEnumerable<JsonElement> ReadLinesAsync(string fileId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, Url($"files/{Uri.EscapeDataString(fileId)}/content")), cancellationToken, completion: HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        var number = 0;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            JsonElement element;
            try
            {
                using var document = JsonDocument.Parse(line);
                element = document.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"file {fileId} from {_base}, line {number}: not JSON ({e.Message})", e);
            }

            yield return element;
        }
    }

    private string Url(string path)
    {
        var url = $"{_base}/{path}";
        return _apiVersion is null ? url : $"{url}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}api-version={Uri.EscapeDataString(_apiVersion)}";
    }

    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken, int? retries = null, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var message = request();
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(message, completion, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < (retries ?? _maxRetries) && RetryingChatClient.IsTransient(e, cancellationToken))
            {
                await BackOffAsync(attempt, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (response.IsSuccessStatusCode)
            {
                return response;
            }

            var status = response.StatusCode;
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            response.Dispose();
            var transient = status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout or >= HttpStatusCode.InternalServerError;
            if (!transient || attempt >= (retries ?? _maxRetries))
            {
                throw new HttpRequestException($"{message.Method} {message.RequestUri} answered {(int)status}: {Shorten(text)}", null, status);
            }

            await BackOffAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    private static Task BackOffAsync(int attempt, CancellationToken cancellationToken) =>
        Task.Delay(TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, attempt))), cancellationToken);

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{response.RequestMessage?.RequestUri} answered something that is not JSON: {Shorten(text)}", e);
        }
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";

    public void Dispose() => _http.Dispose();
}

/// <summary>What the provider says about one batch.</summary>
internal sealed record BatchJob(string Id, string Status, string? InputFileId, string? OutputFileId, string? ErrorFileId, string? Errors)
{
    /// <summary>Nothing more will happen to it: its output and error files are final.</summary>
    public bool IsFinished => Status is "completed" or "failed" or "expired" or "cancelled";

    public static BatchJob Read(JsonElement batch)
    {
        string? Text(string name) => batch.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var errors = batch.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
            ? string.Join("; ", data.EnumerateArray().Select(d => d.TryGetProperty("message", out var m) ? m.ToString() : d.GetRawText()))
            : null;
        return new BatchJob(
            Text("id") ?? throw new InvalidDataException("a batch object without an id"),
            Text("status") ?? throw new InvalidDataException("a batch object without a status"),
            Text("input_file_id"),
            Text("output_file_id"),
            Text("error_file_id"),
            errors);
    }
}

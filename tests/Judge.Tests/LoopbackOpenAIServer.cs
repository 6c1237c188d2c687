using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Distil.Judge.Tests;

/// <summary>
/// An OpenAI-compatible chat completions endpoint on loopback, standing in for vLLM/TGI/hosted APIs (none can
/// run here). Its faults are chosen per test: the first N requests fail with a status; a capacity beyond which
/// requests get 429 (as a rate-limited API answers); latency that grows with the requests in flight (as a
/// self-hosted server queues); dropped connections on every k-th request. It counts what it delivered per
/// prompt, so tests can check that no request was lost or answered twice. With a rate window set it limits
/// requests and tokens per fixed window as OpenAI does (429 past the limit) and describes the window in
/// <c>x-ratelimit-*</c> headers on every answer; it records when each request arrived and what it counted, so tests
/// check caps on the server's own clock. Usage is a 4-characters-per-token count of the prompt and a fixed three
/// output tokens; the totals of delivered answers are what a cost report must add up to.
/// </summary>
internal sealed class LoopbackOpenAIServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly ConcurrentDictionary<string, int> _delivered = new();
    private int _requests;
    private int _inFlight;
    private int _maxInFlight;
    private int _rejected;
    private int _rateLimited;
    private readonly ConcurrentDictionary<string, (long Input, long Output)> _usage = new(StringComparer.Ordinal);
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly ConcurrentDictionary<long, (int Requests, long Tokens)> _windows = new();
    private readonly ConcurrentQueue<(TimeSpan At, long Tokens)> _arrivals = new();

    /// <summary>Output tokens of every answer ("&lt;model&gt; says hi").</summary>
    public const int CompletionTokens = 3;

    public LoopbackOpenAIServer()
    {
        Batches = new LoopbackBatchApi(this);
        // HttpListener needs a concrete port; retry on the rare collision instead of reserving one racily.
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 60000);
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _listener.Start();
                Endpoint = $"http://127.0.0.1:{port}/v1";
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
            }
        }

        _loop = Task.Run(LoopAsync);
    }

    public string Endpoint { get; private set; } = "";

    /// <summary>The files and batches endpoints (OpenAI shape under /v1, Azure OpenAI shape under /openai).</summary>
    public LoopbackBatchApi Batches { get; }

    /// <summary>Fail this many first requests with <see cref="FailStatus"/>.</summary>
    public int FailFirst { get; init; }

    public int FailStatus { get; init; } = 503;

    /// <summary>Requests in flight beyond this get 429 (0: unlimited).</summary>
    public int Capacity { get; init; }

    /// <summary>Retry-After sent with 429/503, in seconds; null sends none.</summary>
    public string? RetryAfter { get; init; } = "0";

    public TimeSpan BaseLatency { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Added per request in flight (queueing at the server).</summary>
    public TimeSpan LatencyPerInFlight { get; init; }

    /// <summary>Every k-th request has its connection dropped without an answer (0: never).</summary>
    public int DropEvery { get; init; }

    /// <summary>Length of the server's rate-limit windows (zero: no rate limits, no headers).</summary>
    public TimeSpan RateWindow { get; init; }

    /// <summary>Requests accepted per window (0: unlimited).</summary>
    public int RequestsPerWindow { get; init; }

    /// <summary>Tokens (prompt plus max_tokens, or the output when none is set) accepted per window (0: unlimited).</summary>
    public long TokensPerWindow { get; init; }

    /// <summary>Requests refused because their window was used up.</summary>
    public int RateLimited => Volatile.Read(ref _rateLimited);

    /// <summary>The most requests and tokens any one window accepted.</summary>
    public (int Requests, long Tokens) BusiestWindow =>
        _windows.IsEmpty ? (0, 0) : (_windows.Values.Max(w => w.Requests), _windows.Values.Max(w => w.Tokens));

    /// <summary>When each request arrived (server clock) and the tokens it counts against a limit, in arrival order.</summary>
    public IReadOnlyList<(TimeSpan At, long Tokens)> Arrivals => _arrivals.OrderBy(a => a.At).ToList();

    /// <summary>Usage reported in answers that were delivered whole.</summary>
    public (long Input, long Output) DeliveredUsage => (_usage.Values.Sum(u => u.Input), _usage.Values.Sum(u => u.Output));

    /// <summary>Usage reported in answers delivered whole, per served model name.</summary>
    public IReadOnlyDictionary<string, (long Input, long Output)> UsageByModel => _usage;

    /// <summary>The answer to a prompt (null: "&lt;model&gt; says hi"); its output tokens are counted as four characters each.</summary>
    public Func<string, string?>? Answer { get; init; }

    /// <summary>The <c>system_fingerprint</c> sent with the n-th request's answer (null: none), so a test can change
    /// the backend behind a model name mid-run.</summary>
    public Func<int, string?>? SystemFingerprint { get; init; }

    public int Requests => Volatile.Read(ref _requests);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Requests refused for capacity (429) or by <see cref="FailFirst"/>.</summary>
    public int Rejected => Volatile.Read(ref _rejected);

    public string? LastAuthorization { get; private set; }

    /// <summary>The <c>messages</c> array of every request, as sent, in arrival order.</summary>
    public IReadOnlyList<JsonElement> ReceivedMessages => [.. _received];

    private readonly ConcurrentQueue<JsonElement> _received = new();

    /// <summary>How many complete answers each prompt (the last user message) received.</summary>
    public IReadOnlyDictionary<string, int> Delivered => _delivered;

    private bool _stopping;

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (Volatile.Read(ref _stopping) || !_listener.IsListening)
            {
                // Stop can fail a pending accept before IsListening turns false, so the flag set first decides.
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        if (LoopbackBatchApi.Handles(context.Request))
        {
            await Batches.AnswerAsync(context);
            return;
        }

        var inFlight = Interlocked.Increment(ref _inFlight);
        InterlockedMax(ref _maxInFlight, inFlight);
        try
        {
            var number = Interlocked.Increment(ref _requests);
            LastAuthorization = context.Request.Headers["Authorization"];
            using var body = new StreamReader(context.Request.InputStream);
            var request = JsonDocument.Parse(await body.ReadToEndAsync()).RootElement;
            _received.Enqueue(request.GetProperty("messages").Clone());
            var promptTokens = PromptTokens(request);
            var countedTokens = promptTokens + (request.TryGetProperty("max_tokens", out var max) || request.TryGetProperty("max_completion_tokens", out max) ? max.GetInt64() : CompletionTokens);
            var arrival = _clock.Elapsed;
            _arrivals.Enqueue((arrival, countedTokens));
            if (RateWindow > TimeSpan.Zero && !Admit(arrival, countedTokens))
            {
                Interlocked.Increment(ref _rateLimited);
                context.Response.StatusCode = 429;
                AddRateLimitHeaders(context);
                await Write(context, "{\"error\": {\"message\": \"rate limit reached\", \"type\": \"requests\"}}");
                return;
            }

            await Task.Delay(BaseLatency + (LatencyPerInFlight * inFlight));
            if (number <= FailFirst || (Capacity > 0 && inFlight > Capacity))
            {
                Interlocked.Increment(ref _rejected);
                context.Response.StatusCode = number <= FailFirst ? FailStatus : 429;
                if (RetryAfter is not null)
                {
                    context.Response.AddHeader("Retry-After", RetryAfter);
                }

                await Write(context, "{\"error\": {\"message\": \"overloaded\", \"type\": \"server_error\"}}");
                return;
            }

            if (DropEvery > 0 && number % DropEvery == 0)
            {
                context.Response.Abort();
                return;
            }

            AddRateLimitHeaders(context);
            await Write(context, Complete(request, number));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>
    /// The completion of one chat request (from the endpoint or from a batch), counted as delivered: the one piece of
    /// answering logic both paths share, so a batch answers exactly what a synchronous call would.
    /// </summary>
    internal string Complete(JsonElement request, int number)
    {
        var promptTokens = PromptTokens(request);
        var model = request.GetProperty("model").GetString();
        var prompt = PromptOf(request);
        var content = Answer?.Invoke(prompt) ?? $"{model} says hi";
        var completionTokens = Answer is null ? CompletionTokens : (content.Length + 3) / 4;
        var json = JsonSerializer.Serialize(new
        {
            id = "chatcmpl-" + number,
            @object = "chat.completion",
            created = 1,
            model,
            system_fingerprint = SystemFingerprint?.Invoke(number),
            choices = new[] { new { index = 0, message = new { role = "assistant", content }, finish_reason = "stop" } },
            usage = new { prompt_tokens = promptTokens, completion_tokens = completionTokens, total_tokens = promptTokens + completionTokens },
        });
        _usage.AddOrUpdate(model!, (promptTokens, completionTokens), (_, u) => (u.Input + promptTokens, u.Output + completionTokens));
        _delivered.AddOrUpdate(prompt, 1, (_, n) => n + 1);
        return json;
    }

    /// <summary>The prompt of a chat request: its last message's text.</summary>
    internal static string PromptOf(JsonElement request) => request.GetProperty("messages").EnumerateArray().Last().GetProperty("content").ToString();

    /// <summary>Prompt tokens as this server counts them: four characters of message text per token, rounded up.</summary>
    private static long PromptTokens(JsonElement request)
    {
        long characters = 0;
        foreach (var message in request.GetProperty("messages").EnumerateArray())
        {
            characters += message.GetProperty("content").ValueKind == JsonValueKind.String ? message.GetProperty("content").GetString()!.Length : 0;
        }

        return (characters + 3) / 4;
    }

    private long WindowOf(TimeSpan at) => at.Ticks / RateWindow.Ticks;

    /// <summary>Counts the request in its window unless the window is used up.</summary>
    private bool Admit(TimeSpan arrival, long tokens)
    {
        var admitted = false;
        _windows.AddOrUpdate(
            WindowOf(arrival),
            _ => { admitted = true; return (1, tokens); },
            (_, w) =>
            {
                admitted = (RequestsPerWindow == 0 || w.Requests < RequestsPerWindow) && (TokensPerWindow == 0 || w.Tokens < TokensPerWindow);
                return admitted ? (w.Requests + 1, w.Tokens + tokens) : w;
            });
        return admitted;
    }

    private void AddRateLimitHeaders(HttpListenerContext context)
    {
        if (RateWindow <= TimeSpan.Zero)
        {
            return;
        }

        var now = _clock.Elapsed;
        var window = _windows.GetValueOrDefault(WindowOf(now));
        var reset = $"{(int)Math.Ceiling((((WindowOf(now) + 1) * RateWindow.Ticks) - now.Ticks) / (double)TimeSpan.TicksPerMillisecond)}ms";
        if (RequestsPerWindow > 0)
        {
            context.Response.AddHeader("x-ratelimit-limit-requests", RequestsPerWindow.ToString(System.Globalization.CultureInfo.InvariantCulture));
            context.Response.AddHeader("x-ratelimit-remaining-requests", Math.Max(0, RequestsPerWindow - window.Requests).ToString(System.Globalization.CultureInfo.InvariantCulture));
            context.Response.AddHeader("x-ratelimit-reset-requests", reset);
        }

        if (TokensPerWindow > 0)
        {
            context.Response.AddHeader("x-ratelimit-limit-tokens", TokensPerWindow.ToString(System.Globalization.CultureInfo.InvariantCulture));
            context.Response.AddHeader("x-ratelimit-remaining-tokens", Math.Max(0, TokensPerWindow - window.Tokens).ToString(System.Globalization.CultureInfo.InvariantCulture));
            context.Response.AddHeader("x-ratelimit-reset-tokens", reset);
        }
    }

    internal static async Task Write(HttpListenerContext context, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _stopping, true);
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}

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
/// prompt, so tests can check that no request was lost or answered twice.
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

    public LoopbackOpenAIServer()
    {
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

    public int Requests => Volatile.Read(ref _requests);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Requests refused for capacity (429) or by <see cref="FailFirst"/>.</summary>
    public int Rejected => Volatile.Read(ref _rejected);

    public string? LastAuthorization { get; private set; }

    /// <summary>How many complete answers each prompt (the last user message) received.</summary>
    public IReadOnlyDictionary<string, int> Delivered => _delivered;

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
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
        var inFlight = Interlocked.Increment(ref _inFlight);
        InterlockedMax(ref _maxInFlight, inFlight);
        try
        {
            var number = Interlocked.Increment(ref _requests);
            LastAuthorization = context.Request.Headers["Authorization"];
            using var body = new StreamReader(context.Request.InputStream);
            var request = JsonDocument.Parse(await body.ReadToEndAsync()).RootElement;
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

            var model = request.GetProperty("model").GetString();
            var prompt = request.GetProperty("messages").EnumerateArray().Last().GetProperty("content").ToString();
            await Write(context, JsonSerializer.Serialize(new
            {
                id = "chatcmpl-" + number,
                @object = "chat.completion",
                created = 1,
                model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = $"{model} says hi" }, finish_reason = "stop" } },
                usage = new { prompt_tokens = 5, completion_tokens = 3, total_tokens = 8 },
            }));
            _delivered.AddOrUpdate(prompt, 1, (_, n) => n + 1);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static async Task Write(HttpListenerContext context, string json)
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
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}

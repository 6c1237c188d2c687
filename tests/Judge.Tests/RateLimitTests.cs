using System.Text.Json;
using Distil.Engine;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

/// <summary>
/// A served model keeps to the server's published limits (<c>x-ratelimit-*</c>, <c>Retry-After</c>) and to the
/// definition's <c>requests_per_minute</c> / <c>tokens_per_minute</c>. Every check is counted by the loopback
/// server on its own clock: what it accepted per window, and when requests arrived.
/// </summary>
public class RateLimitTests
{
    [Fact]
    public async Task When_the_servers_remaining_requests_reach_zero_new_requests_wait_for_its_reset()
    {
        await using var server = new LoopbackOpenAIServer { RateWindow = TimeSpan.FromMilliseconds(250), RequestsPerWindow = 3, BaseLatency = TimeSpan.FromMilliseconds(5) };
        // Three at once: the first burst, sent before any header was seen, fits the window.
        using var client = await OpenAsync(server, """ "max_concurrency": 3, "adaptive_concurrency": false, "max_retries": 0 """);

        var results = await AskAllAsync(client, 24);

        Assert.All(results, r => Assert.Null(r.Error)); // with no retries, a single refusal would fail a prompt
        Assert.Equal(0, server.RateLimited);
        Assert.InRange(server.BusiestWindow.Requests, 1, 3);
        Assert.All(server.Delivered.Values, n => Assert.Equal(1, n));
        Assert.True(client.GetService<RateLimitedChatClient>()!.Limit.Holds > 0);
    }

    [Fact]
    public async Task When_the_servers_remaining_tokens_reach_zero_new_requests_wait_for_its_reset()
    {
        // Each request counts its prompt (3 tokens) plus max_tokens 3 against 30 tokens a window: 5 requests.
        await using var server = new LoopbackOpenAIServer { RateWindow = TimeSpan.FromMilliseconds(250), TokensPerWindow = 30, BaseLatency = TimeSpan.FromMilliseconds(5) };
        using var client = await OpenAsync(server, """ "max_concurrency": 4, "adaptive_concurrency": false, "max_retries": 0 """);

        var results = await AskAllAsync(client, 24, new ChatOptions { MaxOutputTokens = 3 });

        Assert.All(results, r => Assert.Null(r.Error));
        Assert.Equal(0, server.RateLimited);
        Assert.InRange(server.BusiestWindow.Tokens, 1, 30 + 6); // the last request admitted may cross the line, as OpenAI's does
        Assert.All(server.Delivered.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task A_refusal_with_Retry_After_holds_every_new_request_not_only_the_retry()
    {
        // The first two requests are refused and ask for a pause; none of the others may arrive before it ends.
        await using var server = new LoopbackOpenAIServer { FailFirst = 2, FailStatus = 429, RetryAfter = "1", BaseLatency = TimeSpan.FromMilliseconds(50) };
        using var client = await OpenAsync(server, """ "max_concurrency": 2, "initial_concurrency": 2, "adaptive_concurrency": false, "max_retries": 3 """);

        var results = await AskAllAsync(client, 6);

        Assert.All(results, r => Assert.Null(r.Error));
        var arrivals = server.Arrivals;
        // The refusals are answered 50 ms after they arrive; the pause is one second from then, on the server's clock.
        var refusalsAnswered = arrivals[1].At + TimeSpan.FromMilliseconds(50);
        Assert.All(arrivals.Skip(2), a => Assert.True(a.At >= refusalsAnswered + TimeSpan.FromMilliseconds(900), $"a request arrived at {a.At.TotalMilliseconds:F0} ms, inside the pause"));
    }

    [Fact]
    public async Task Requests_per_minute_is_kept_over_any_window_of_the_servers_clock()
    {
        // 1200 a minute: 20 a second, a bucket of one second's worth.
        await using var server = new LoopbackOpenAIServer { BaseLatency = TimeSpan.FromMilliseconds(2) };
        using var client = await OpenAsync(server, """ "max_concurrency": 8, "adaptive_concurrency": false, "requests_per_minute": 1200 """);

        var results = await AskAllAsync(client, 50);

        Assert.All(results, r => Assert.Null(r.Error));
        var times = server.Arrivals.Select(a => a.At).ToList();
        Assert.Equal(50, times.Count);
        // Beyond the first second's burst of 20, the other 30 need 1.5 s of refill.
        Assert.True(times[^1] - times[0] >= TimeSpan.FromSeconds(1.4), $"50 requests within {(times[^1] - times[0]).TotalSeconds:F2} s");
        Assert.InRange(MostIn(times, TimeSpan.FromMilliseconds(500), _ => 1), 1, 20 + 10 + 2);
    }

    [Fact]
    public async Task Tokens_per_minute_is_kept_over_any_window_of_the_servers_clock()
    {
        // 6000 a minute: 100 a second; each request is counted at 3 prompt + 3 output = 6 tokens.
        await using var server = new LoopbackOpenAIServer { BaseLatency = TimeSpan.FromMilliseconds(2) };
        using var client = await OpenAsync(server, """ "max_concurrency": 8, "adaptive_concurrency": false, "tokens_per_minute": 6000 """);

        var results = await AskAllAsync(client, 40, new ChatOptions { MaxOutputTokens = 3 });

        Assert.All(results, r => Assert.Null(r.Error));
        var arrivals = server.Arrivals;
        Assert.All(arrivals, a => Assert.Equal(6, a.Tokens)); // the client's estimate is the server's count
        var times = arrivals.Select(a => a.At).ToList();
        Assert.True(times[^1] - times[0] >= TimeSpan.FromSeconds(1.2), $"240 tokens within {(times[^1] - times[0]).TotalSeconds:F2} s");
        Assert.InRange(MostIn(times, TimeSpan.FromMilliseconds(500), _ => 6), 1, 100 + 50 + 12);
    }

    [Theory]
    [InlineData("\"requests_per_minute\": 0", "requests_per_minute")]
    [InlineData("\"tokens_per_minute\": \"lots\"", "tokens_per_minute")]
    public async Task A_bad_cap_is_reported_with_its_file_line_and_path(string field, string name)
    {
        var json = $$"""
            {"type": "openai", "endpoint": "http://127.0.0.1:9/v1", "model": "m",
             {{field}} }
            """;
        var definition = new StepParameters(JsonDocument.Parse(json).RootElement.Clone(), "$.models.m", "pipe.json", path => path.EndsWith(name, StringComparison.Ordinal) ? 2 : 1);

        var error = await Assert.ThrowsAsync<PipelineDefinitionException>(async () => await new ModelCatalog().OpenAsync("m", definition, default));

        var problem = Assert.Single(error.Problems);
        Assert.Equal($"$.models.m.{name}", problem.JsonPath);
        Assert.Equal(2, problem.Line);
        Assert.Contains("pipe.json", problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1s", 1000)]
    [InlineData("6m0s", 360_000)]
    [InlineData("20ms", 20)]
    [InlineData("1h2m3.5s", 3_723_500)]
    [InlineData("0.5", 500)]
    public void Reset_durations_are_read_in_OpenAIs_format(string text, double milliseconds) =>
        Assert.Equal(milliseconds, RateLimitHeaders.Duration(text)!.Value.TotalMilliseconds, 6);

    [Theory]
    [InlineData("2s 1")]
    [InlineData("1x")]
    [InlineData("s")]
    [InlineData("-1")]
    public void Unreadable_durations_are_ignored_not_guessed(string text) =>
        Assert.Null(RateLimitHeaders.Duration(text));

    [Fact]
    public void Retry_After_is_read_as_seconds_or_as_an_HTTP_date()
    {
        var now = new DateTimeOffset(2026, 12, 6, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(7), RateLimitHeaders.RetryAfter("7", now));
        Assert.Equal(TimeSpan.FromSeconds(90), RateLimitHeaders.RetryAfter("Sun, 06 Dec 2026 08:01:30 GMT", now));
        Assert.Equal(TimeSpan.Zero, RateLimitHeaders.RetryAfter("Sun, 06 Dec 2026 07:59:00 GMT", now));
        Assert.Null(RateLimitHeaders.RetryAfter("soon", now));
    }

    /// <summary>The largest weight of arrivals inside any window of <paramref name="width"/> starting at an arrival.</summary>
    private static long MostIn(IReadOnlyList<TimeSpan> times, TimeSpan width, Func<int, long> weight)
    {
        long most = 0;
        for (var i = 0; i < times.Count; i++)
        {
            long sum = 0;
            for (var j = i; j < times.Count && times[j] - times[i] < width; j++)
            {
                sum += weight(j);
            }

            most = Math.Max(most, sum);
        }

        return most;
    }

    private static async Task<IChatClient> OpenAsync(LoopbackOpenAIServer server, string options)
    {
        var json = $$"""{"type": "openai", "endpoint": "{{server.Endpoint}}", "model": "served", {{options}} }""";
        var definition = new StepParameters(JsonDocument.Parse(json).RootElement.Clone(), "$.models.m", "pipe.json", _ => 1);
        return await new ModelCatalog().OpenAsync("m", definition, default);
    }

    private static async Task<IReadOnlyList<BatchChatResult>> AskAllAsync(IChatClient client, int prompts, ChatOptions? options = null)
    {
        // "prompt NN" is 9 characters (3 tokens) for every NN from 10 to 99.
        var requests = Enumerable.Range(10, prompts).Select(i => new BatchChatRequest([new ChatMessage(ChatRole.User, $"prompt {i}")], options)).ToList();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        return await ConcurrentBatchChatClient.For(client, 16).GetResponsesAsync(requests, deadline.Token);
    }
}

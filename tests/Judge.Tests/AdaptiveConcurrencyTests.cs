using System.Text.Json;
using Distil.Engine;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

/// <summary>
/// A served model's concurrency adapts to the server (additive increase, multiplicative decrease), measured
/// against the loopback OpenAI-compatible server with its faults switched on. Every prompt must be answered
/// exactly once whatever the faults.
/// </summary>
public class AdaptiveConcurrencyTests
{
    private const int Prompts = 120;

    [Fact]
    public async Task A_rate_limited_server_is_met_at_its_capacity_and_every_prompt_is_answered_once()
    {
        await using var server = new LoopbackOpenAIServer { Capacity = 3, BaseLatency = TimeSpan.FromMilliseconds(20), RetryAfter = null };
        using var client = await OpenAsync(server, """ "max_concurrency": 16, "initial_concurrency": 16, "max_retries": 12 """);

        var results = await AskAllAsync(client);

        AssertEachAnsweredOnce(server, results);
        var limiter = client.GetService<ConcurrencyLimitedChatClient>()!;
        Assert.InRange(limiter.CurrentLimit, 1, 6); // converged near the server's capacity of 3, from 16
        Assert.True(limiter.Overloads < Prompts / 2, $"{limiter.Overloads} overloads for {Prompts} prompts: the limit did not come down");
    }

    [Fact]
    public async Task A_fixed_limit_keeps_hitting_the_same_server_which_is_what_adaptation_avoids()
    {
        // The baseline for the test above: the same server and load with the limit held at 16.
        await using var server = new LoopbackOpenAIServer { Capacity = 3, BaseLatency = TimeSpan.FromMilliseconds(20), RetryAfter = null };
        using var client = await OpenAsync(server, """ "max_concurrency": 16, "adaptive_concurrency": false, "max_retries": 12 """);

        var results = await AskAllAsync(client);

        var limiter = client.GetService<ConcurrencyLimitedChatClient>()!;
        Assert.Equal(16, limiter.CurrentLimit);
        Assert.True(limiter.Overloads >= Prompts / 2, $"only {limiter.Overloads} overloads at a fixed 16 against capacity 3");
        Assert.All(server.Delivered.Values, n => Assert.Equal(1, n));
        Assert.True(results.Count(r => r.Error is null) <= Prompts);
    }

    [Fact]
    public async Task Latency_that_grows_with_concurrency_keeps_the_limit_below_its_maximum()
    {
        // No refusals at all: only the queueing delay says the server is saturated.
        await using var server = new LoopbackOpenAIServer { BaseLatency = TimeSpan.FromMilliseconds(5), LatencyPerInFlight = TimeSpan.FromMilliseconds(15) };
        using var client = await OpenAsync(server, """ "max_concurrency": 32, "initial_concurrency": 2 """);

        var results = await AskAllAsync(client);

        AssertEachAnsweredOnce(server, results);
        Assert.Equal(0, server.Rejected);
        Assert.InRange(client.GetService<ConcurrencyLimitedChatClient>()!.CurrentLimit, 1, 16);
        Assert.InRange(server.MaxInFlight, 1, 20);
    }

    [Fact]
    public async Task Dropped_connections_and_503s_lose_and_repeat_nothing()
    {
        await using var server = new LoopbackOpenAIServer { FailFirst = 5, DropEvery = 7, BaseLatency = TimeSpan.FromMilliseconds(5) };
        using var client = await OpenAsync(server, """ "max_concurrency": 8, "max_retries": 6 """);

        var results = await AskAllAsync(client);

        AssertEachAnsweredOnce(server, results);
        Assert.True(server.Requests > Prompts + 5, $"{server.Requests} requests: the drops were not retried");
    }

    private static async Task<IChatClient> OpenAsync(LoopbackOpenAIServer server, string options)
    {
        var json = $$"""{"type": "openai", "endpoint": "{{server.Endpoint}}", "model": "served", {{options}} }""";
        var definition = new StepParameters(JsonDocument.Parse(json).RootElement.Clone(), "$.models.m", "pipe.json", _ => 1);
        return await new ModelCatalog().OpenAsync("m", definition, default);
    }

    private static async Task<IReadOnlyList<BatchChatResult>> AskAllAsync(IChatClient client)
    {
        var requests = Enumerable.Range(0, Prompts).Select(i => new BatchChatRequest([new ChatMessage(ChatRole.User, $"prompt {i}")])).ToList();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        return await ConcurrentBatchChatClient.For(client, 32).GetResponsesAsync(requests, deadline.Token);
    }

    private static void AssertEachAnsweredOnce(LoopbackOpenAIServer server, IReadOnlyList<BatchChatResult> results)
    {
        Assert.All(results, r => Assert.Null(r.Error));
        Assert.Equal(Prompts, server.Delivered.Count);
        Assert.All(server.Delivered.Values, n => Assert.Equal(1, n));
    }
}

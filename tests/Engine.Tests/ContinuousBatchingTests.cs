using Distil.Engine.Tests.Support;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests;

/// <summary>More requests than slots: finished slots are refilled while others decode, and every sequence gets
/// exactly what it gets when run alone.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ContinuousBatchingTests(TinyModels models)
{
    [Fact]
    public async Task More_requests_than_slots_give_the_tokens_of_one_at_a_time_greedy_runs()
    {
        var requests = Chat.Prompts.Select((p, i) => new BatchChatRequest(Chat.User(p), Chat.Greedy(4 + (i * 5 % 17)))).ToList();

        using var alone = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 1, Threads = 1, PrefixCacheBytes = 0 });
        var expected = new List<IReadOnlyList<int>>();
        foreach (var request in requests)
        {
            expected.Add(Chat.Tokens(await alone.GetResponseAsync(request.Messages, request.Options)));
        }

        using var batched = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 3, Threads = 1 });
        var results = await batched.GetService<IBatchChatClient>()!.GetResponsesAsync(requests);

        Assert.Equal(requests.Count, results.Count);
        for (var i = 0; i < requests.Count; i++)
        {
            Assert.Null(results[i].Error);
            Assert.Equal(expected[i], Chat.Tokens(results[i].Response!));
            Assert.Equal(requests[i].Options!.MaxOutputTokens, results[i].Response!.Usage!.OutputTokenCount);
        }

        // Fewer decode steps than running them one after another: the slots really were shared.
        Assert.True(batched.Statistics.DecodeSteps < alone.Statistics.DecodeSteps / 2, $"{batched.Statistics.DecodeSteps} batched steps vs {alone.Statistics.DecodeSteps} alone");
    }

    [Fact]
    public async Task Joiners_written_into_finished_rows_get_the_tokens_of_a_cache_rebuilt_for_them()
    {
        // Budgets that differ make rows finish at different steps while others wait: with room in the cache the
        // joiner takes the finished row in place; without room (0: a new cache every step) the cache is rebuilt.
        var requests = Chat.Prompts.Select((p, i) => new BatchChatRequest(Chat.User(p), Chat.Greedy(3 + (i * 7 % 13)))).ToList();
        using var placing = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 3, Threads = 1, PrefixCacheBytes = 0 });
        using var rebuilding = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 3, Threads = 1, PrefixCacheBytes = 0, KvCapacityChunk = 0 });
        var placed = await placing.GetService<IBatchChatClient>()!.GetResponsesAsync(requests);
        var rebuilt = await rebuilding.GetService<IBatchChatClient>()!.GetResponsesAsync(requests);

        Assert.Equal(rebuilt.Select(r => Chat.Tokens(r.Response!)), placed.Select(r => Chat.Tokens(r.Response!)));
        Assert.Equal(0, rebuilding.Statistics.RowsPlaced);
        Assert.True(placing.Statistics.RowsPlaced > (requests.Count - 3) / 2, $"{placing.Statistics.RowsPlaced} of {requests.Count - 3} joiners placed in freed rows");
        Assert.True(placing.Statistics.MergedBytes < rebuilding.Statistics.MergedBytes, $"{placing.Statistics.MergedBytes} bytes merged placing vs {rebuilding.Statistics.MergedBytes} rebuilding");
    }

    [Fact]
    public async Task The_room_laid_out_for_in_place_decoding_stops_at_what_the_budgets_can_fill()
    {
        // Every merge copies the cache's whole capacity; with budgets of 6 tokens the default 256-column room would be
        // copied for nothing. The room covers the budgets, so the cache never runs out of it either.
        var requests = Chat.Prompts.Take(4).Select(p => new BatchChatRequest(Chat.User(p), Chat.Greedy(6))).ToList();
        using var roomy = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 4, Threads = 1, PrefixCacheBytes = 0 });
        using var growing = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 4, Threads = 1, PrefixCacheBytes = 0, KvCapacityChunk = 0 });
        var inPlace = await roomy.GetService<IBatchChatClient>()!.GetResponsesAsync(requests);
        var copied = await growing.GetService<IBatchChatClient>()!.GetResponsesAsync(requests);

        Assert.Equal(copied.Select(r => Chat.Tokens(r.Response!)), inPlace.Select(r => Chat.Tokens(r.Response!)));
        Assert.True(roomy.Statistics.InPlaceSteps > 0, "the steps should be written in place");
        // The one growth allowed is laying room onto the cache that came straight from the prefill.
        Assert.True(roomy.Statistics.CacheGrowths <= 1, $"{roomy.Statistics.CacheGrowths} growth copies: the room should last the budgets");
        var kvBytesPerToken = ModelInfo.Read(models.A).KvBytesPerToken;
        var widest = roomy.Statistics.Merges * requests.Count * 128 * kvBytesPerToken;
        Assert.True(roomy.Statistics.MergedBytes <= widest, $"{roomy.Statistics.MergedBytes} bytes merged in {roomy.Statistics.Merges} merges: more than 128 columns a row");
    }

    [Fact]
    public async Task Concurrent_single_calls_are_batched_together_with_the_same_results()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 4, Threads = 1 });
        var solo = new List<string>();
        foreach (var prompt in Chat.Prompts.Take(4))
        {
            solo.Add((await client.GetResponseAsync(Chat.User(prompt), Chat.Greedy(12))).Text);
        }

        var together = await Task.WhenAll(Chat.Prompts.Take(4).Select(p => client.GetResponseAsync(Chat.User(p), Chat.Greedy(12))));
        Assert.Equal(solo, together.Select(r => r.Text));
    }

    [Fact]
    public async Task Static_batching_gives_the_same_tokens_as_continuous()
    {
        var requests = Chat.Prompts.Take(6).Select((p, i) => new BatchChatRequest(Chat.User(p), Chat.Greedy(3 + (i * 7 % 11)))).ToList();
        using var continuous = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 2, Threads = 1 });
        using var drained = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 2, Threads = 1, ContinuousBatching = false });
        var a = await continuous.GetResponsesAsync(requests);
        var b = await drained.GetResponsesAsync(requests);
        Assert.Equal(a.Select(r => Chat.Tokens(r.Response!)), b.Select(r => Chat.Tokens(r.Response!)));
        Assert.True(continuous.Statistics.DecodeSteps < drained.Statistics.DecodeSteps, "refilling slots takes fewer steps than draining the batch");
    }

    [Fact]
    public async Task Shared_prefix_is_reused_without_changing_results()
    {
        var system = string.Join(" ", Enumerable.Repeat("You are a careful judge. Rate the answer for helpfulness, honesty and accuracy.", 6));
        var requests = Chat.Prompts.Take(5).Select(p => new BatchChatRequest(Chat.User(p, system), Chat.Greedy(6))).ToList();
        using var cached = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 2, Threads = 1 });
        using var uncached = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 2, Threads = 1, PrefixCacheBytes = 0 });
        var withCache = await cached.GetResponsesAsync(requests);
        var without = await uncached.GetResponsesAsync(requests);
        Assert.Equal(without.Select(r => Chat.Tokens(r.Response!)), withCache.Select(r => Chat.Tokens(r.Response!)));
        Assert.True(cached.Statistics.ReusedPrefixTokens >= 3 * 64, $"reused {cached.Statistics.ReusedPrefixTokens} prompt tokens");
        Assert.Equal(0, uncached.Statistics.ReusedPrefixTokens);
        Assert.True(cached.Statistics.PrefillTokens < uncached.Statistics.PrefillTokens);
    }
}

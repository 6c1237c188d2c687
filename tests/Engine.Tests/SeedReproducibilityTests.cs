using Distil.Engine.Tests.Support;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests;

/// <summary>A request's seed fixes its sampled tokens, whatever else shares the batch.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class SeedReproducibilityTests(TinyModels models)
{
    private static ChatOptions Sampled(long seed) => new() { Temperature = 1.0f, TopP = 0.95f, MaxOutputTokens = 16, Seed = seed };

    [Fact]
    public async Task Same_seed_gives_same_tokens_alone_and_among_different_batch_companions()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 4, Threads = 1 });
        var alone = Chat.Tokens(await client.GetResponseAsync(Chat.User("Tell me a story."), Sampled(42)));
        var again = Chat.Tokens(await client.GetResponseAsync(Chat.User("Tell me a story."), Sampled(42)));
        Assert.Equal(alone, again);

        foreach (var companions in new[] { new[] { "Hi", "Why?" }, new[] { "Describe the ocean at night in detail.", "Count to ten.", "Name three colours." } })
        {
            var batch = companions.Select((p, i) => new BatchChatRequest(Chat.User(p), Sampled(1000 + i)))
                .Prepend(new BatchChatRequest(Chat.User("Tell me a story."), Sampled(42))).ToList();
            var results = await client.GetResponsesAsync(batch);
            Assert.Equal(alone, Chat.Tokens(results[0].Response!));
        }
    }

    [Fact]
    public async Task Different_seeds_give_different_samples()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 4, Threads = 1 });
        var results = await client.GetResponsesAsync(Enumerable.Range(0, 4).Select(s => new BatchChatRequest(Chat.User("Tell me a story."), Sampled(s))).ToList());
        Assert.True(results.Select(r => string.Join(",", Chat.Tokens(r.Response!))).Distinct().Count() >= 3, "sampling with different seeds should differ");
    }
}

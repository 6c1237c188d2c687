using Distil.Engine.Building;
using Distil.Engine.Model;
using Distil.Engine.Tests.Support;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests;

/// <summary>A loaded model is a Microsoft.Extensions.AI chat client: streaming, usage, finish reason, services.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ChatClientTests(TinyModels models)
{
    [Fact]
    public async Task Streaming_updates_add_up_to_the_response_and_end_with_usage_and_finish_reason()
    {
        using IChatClient client = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        var response = await client.GetResponseAsync(Chat.User("Hello", system: "Be brief."), Chat.Greedy(20));

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Chat.User("Hello", system: "Be brief."), Chat.Greedy(20)))
        {
            updates.Add(update);
        }

        Assert.True(updates.Count > 2, "text arrives as tokens decode, not in one piece");
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Length, last.FinishReason);
        var usage = last.Contents.OfType<UsageContent>().Single().Details;
        Assert.Equal(20, usage.OutputTokenCount);
        Assert.Equal(response.Usage!.InputTokenCount, usage.InputTokenCount);
        Assert.True(usage.InputTokenCount > 5);

        var aggregated = updates.ToChatResponse();
        Assert.Equal(response.Text, aggregated.Text);
        Assert.Equal(20, aggregated.Usage!.OutputTokenCount);
    }

    [Fact]
    public void Services_expose_metadata_config_and_the_batch_interface()
    {
        using IChatClient client = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        var metadata = client.GetService<ChatClientMetadata>()!;
        Assert.Equal("distil-onnx", metadata.ProviderName);
        Assert.Equal("tiny-a", metadata.DefaultModelId);
        Assert.Equal(2, client.GetService<DecoderConfig>()!.Layers!.Value);
        Assert.Same(client, client.GetService<IBatchChatClient>());
        Assert.Same(client, ConcurrentBatchChatClient.For(client, 4));
    }

    [Fact]
    public async Task Two_models_load_at_once_each_with_its_own_session()
    {
        using var a = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        using var b = LocalModel.Load(models.B, new LocalModelOptions { Threads = 1 });
        var soloA = (await a.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(10))).Text;
        var soloB = (await b.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(10))).Text;
        Assert.NotEqual(soloA, soloB);

        var together = await Task.WhenAll(
            a.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(10)),
            b.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(10)));
        Assert.Equal(soloA, together[0].Text);
        Assert.Equal(soloB, together[1].Text);
        Assert.Equal("tiny-b", together[1].ModelId);
    }

    [Fact]
    public async Task Disposed_client_refuses_new_requests()
    {
        var client = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        client.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(3)));
    }
}

using System.Text.Json.Nodes;
using Distil.Engine.Tests.Support;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests;

/// <summary>Generation ends on a stop token id, a stop string or the token limit, with the matching finish reason.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class StopConditionTests(TinyModels models)
{
    [Fact]
    public async Task Max_output_tokens_ends_with_finish_reason_length()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        var response = await client.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(7));
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(7, response.Usage!.OutputTokenCount);
        Assert.Equal(7, Chat.Tokens(response).Count);
    }

    [Fact]
    public async Task Any_eos_id_from_generation_config_stops_with_finish_reason_stop()
    {
        using var free = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        var tokens = Chat.Tokens(await free.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(12))).ToList();
        var stopAt = Enumerable.Range(3, 8).First(i => tokens.IndexOf(tokens[i]) == i);

        var folder = models.CopyOfA("eos");
        var generationConfig = Path.Combine(folder, "generation_config.json");
        var json = JsonNode.Parse(File.ReadAllText(generationConfig))!.AsObject();
        json["eos_token_id"] = new JsonArray(999_999, tokens[stopAt]);
        File.WriteAllText(generationConfig, json.ToJsonString());

        using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = 1 });
        Assert.Contains(tokens[stopAt], client.StopTokenIds);
        Assert.Contains(free.Tokenizer.TokenId("<|eot_id|>")!.Value, client.StopTokenIds);
        Assert.Contains(free.Tokenizer.TokenId("<|eom_id|>")!.Value, client.StopTokenIds);
        var response = await client.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(12));
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(tokens.Take(stopAt + 1), Chat.Tokens(response));
        Assert.Equal(stopAt + 1, response.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Stop_string_cuts_the_text_before_it_and_stops()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        var full = (await client.GetResponseAsync(Chat.User("Write a haiku about autumn leaves."), Chat.Greedy(24))).Text;
        var stop = full.Substring(full.Length / 2, 3);
        var cut = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var options = Chat.Greedy(24);
        options.StopSequences = ["this-never-appears", stop];
        var response = await client.GetResponseAsync(Chat.User("Write a haiku about autumn leaves."), options);
        Assert.Equal(cut, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.True(response.Usage!.OutputTokenCount < 24);

        var streamed = "";
        await foreach (var update in client.GetStreamingResponseAsync(Chat.User("Write a haiku about autumn leaves."), options))
        {
            streamed += update.Text;
        }

        Assert.Equal(cut, streamed);
    }

    [Fact]
    public async Task Too_long_prompt_fails_only_that_request()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 4, Threads = 1 });
        var tooLong = string.Join(" ", Enumerable.Repeat("word", client.Config.ContextLength + 10));
        var results = await client.GetResponsesAsync(
        [
            new BatchChatRequest(Chat.User("Hello"), Chat.Greedy(5)),
            new BatchChatRequest(Chat.User(tooLong), Chat.Greedy(5)),
            new BatchChatRequest(Chat.User("Why is the sky blue?"), Chat.Greedy(5)),
        ]);
        Assert.Equal(5, results[0].Response!.Usage!.OutputTokenCount);
        Assert.Null(results[1].Response);
        Assert.Contains("context", results[1].Error);
        Assert.Contains("max_position_embeddings", results[1].Error);
        Assert.Equal(5, results[2].Response!.Usage!.OutputTokenCount);
    }
}

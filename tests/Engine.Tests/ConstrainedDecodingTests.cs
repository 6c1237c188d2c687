using System.Text.Json;
using Distil.Engine.Tests.Support;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests;

/// <summary>A JSON-schema response format makes even a random model answer with a document valid under the schema.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ConstrainedDecodingTests(TinyModels models)
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""
        { "type": "object",
          "properties": { "rating": { "type": "integer", "enum": [1, 2, 3, 4, 5] }, "rationale": { "type": "string", "maxLength": 30 } },
          "required": ["rating", "rationale"], "additionalProperties": false }
        """).RootElement;

    [Fact]
    public async Task Every_request_in_a_batch_returns_schema_valid_json_and_stops()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { MaxBatchSize = 4, Threads = 1 });
        var requests = Enumerable.Range(0, 6).Select(i => new BatchChatRequest(
            Chat.User(Chat.Prompts[i]),
            new ChatOptions { Temperature = 1, Seed = i, MaxOutputTokens = 60, ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "rating") })).ToList();
        var results = await client.GetResponsesAsync(requests);
        foreach (var result in results)
        {
            Assert.Null(result.Error);
            var response = result.Response!;
            Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
            using var document = JsonDocument.Parse(response.Text);
            var rating = document.RootElement.GetProperty("rating").GetInt32();
            Assert.InRange(rating, 1, 5);
            Assert.True(document.RootElement.GetProperty("rationale").GetString()!.Length <= 30);
            Assert.Equal(2, document.RootElement.EnumerateObject().Count());
        }
    }

    [Fact]
    public async Task Unconstrained_output_of_the_same_model_is_not_json()
    {
        using var client = LocalModel.Load(models.A, new LocalModelOptions { Threads = 1 });
        var response = await client.GetResponseAsync(Chat.User(Chat.Prompts[0]), new ChatOptions { Temperature = 1, Seed = 0, MaxOutputTokens = 30 });
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(response.Text));
    }
}

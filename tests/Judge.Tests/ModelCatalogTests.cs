using System.Text.Json;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

[Collection(TinyModelCollection.Name)]
public class ModelCatalogTests(TinyModels models)
{
    private static StepParameters Model(string json) =>
        new(JsonDocument.Parse(json).RootElement.Clone(), "$.models.m", "pipe.json", _ => 4);

    [Theory]
    [InlineData("{\"type\": \"gguf\"}", "$.models.m.type", "unknown type 'gguf'")]
    [InlineData("{\"path\": \"x\"}", "$.models.m.type", "needs a \"type\"")]
    [InlineData("{\"type\": \"local\", \"path\": \"does/not/exist\"}", "$.models.m.path", "add \"build\"")]
    [InlineData("{\"type\": \"local\", \"path\": \"does/not/exist\", \"build\": {\"preset\": \"huge\"}}", "$.models.m.build.preset", "tiny")]
    [InlineData("{\"type\": \"local\", \"path\": \"x\", \"theads\": 2}", "$.models.m.theads", "unknown key 'theads'")]
    [InlineData("{\"type\": \"openai\", \"endpoint\": \"http://127.0.0.1:1/v1\"}", "$.models.m.model", "served \"model\" name")]
    [InlineData("{\"type\": \"openai\", \"model\": \"m\", \"endpoint\": \"ftp://host\"}", "$.models.m.endpoint", "http(s) URL")]
    [InlineData("{\"type\": \"openai\", \"model\": \"m\", \"max_concurrency\": 0}", "$.models.m.max_concurrency", "from 1 to")]
    public async Task Bad_model_entries_are_located_errors(string json, string path, string message)
    {
        var e = await Assert.ThrowsAsync<PipelineDefinitionException>(async () => await new ModelCatalog().OpenAsync("m", Model(json), default));
        Assert.Equal(path, e.JsonPath);
        Assert.Equal("pipe.json", e.File);
        Assert.Equal(4, e.Line);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public async Task A_chat_template_file_that_does_not_parse_or_bad_kwargs_are_located_errors()
    {
        var template = Path.Combine(models.Root, "broken-" + Guid.NewGuid().ToString("N")[..6] + ".jinja");
        File.WriteAllText(template, "{% for m in messages %}\n{{ m.content }");
        var e = await Assert.ThrowsAsync<PipelineDefinitionException>(async () => await new ModelCatalog().OpenAsync("m",
            Model($"{{\"type\": \"local\", \"path\": {JsonSerializer.Serialize(models.A)}, \"chat_template\": {JsonSerializer.Serialize(template)}}}"), default));
        Assert.Equal("$.models.m.chat_template", e.JsonPath);
        Assert.Contains($"{template}:2:", e.Message);

        var kwargs = await Assert.ThrowsAsync<PipelineDefinitionException>(async () => await new ModelCatalog().OpenAsync("m",
            Model($"{{\"type\": \"local\", \"path\": {JsonSerializer.Serialize(models.A)}, \"chat_template_kwargs\": [1]}}"), default));
        Assert.Equal("$.models.m.chat_template_kwargs", kwargs.JsonPath);
    }

    [Fact]
    public async Task A_missing_api_key_variable_is_named_and_a_set_one_is_never_shown()
    {
        var variable = "DISTIL_TEST_KEY_" + Guid.NewGuid().ToString("N")[..6];
        var e = await Assert.ThrowsAsync<PipelineDefinitionException>(async () =>
            await new ModelCatalog().OpenAsync("m", Model($"{{\"type\": \"openai\", \"model\": \"m\", \"api_key_env\": \"{variable}\"}}"), default));
        Assert.Contains(variable, e.Message);
        Assert.Equal("$.models.m.api_key_env", e.JsonPath);
    }

    [Fact]
    public async Task Local_models_are_built_on_first_use_once_even_when_asked_twice_at_once()
    {
        var folder = Path.Combine(models.Root, "auto-" + Guid.NewGuid().ToString("N")[..6]);
        var built = await Task.WhenAll(
            ModelFolderBuilder.EnsureBuiltAsync(folder, "tiny", 9, default),
            ModelFolderBuilder.EnsureBuiltAsync(folder, "tiny", 9, default));

        Assert.Equal(1, built.Count(b => b));
        Assert.True(ModelFolderBuilder.IsModelFolder(folder));
        Assert.Empty(Directory.GetDirectories(models.Root, $".{Path.GetFileName(folder)}.building-*"));

        using var client = await new ModelCatalog().OpenAsync("m", Model($"{{\"type\": \"local\", \"path\": {JsonSerializer.Serialize(folder)}, \"build\": {{\"preset\": \"tiny\", \"seed\": 9}}, \"threads\": 1}}"), default);
        var response = await client.GetResponseAsync("hello", new ChatOptions { MaxOutputTokens = 3 });
        Assert.InRange(response.Usage!.OutputTokenCount!.Value, 1, 3);
        Assert.Equal(Path.GetFileName(folder), client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task Remote_models_retry_overload_and_respect_max_concurrency()
    {
        await using var server = new LoopbackOpenAIServer { FailFirst = 2 };
        var variable = "DISTIL_TEST_KEY_" + Guid.NewGuid().ToString("N")[..6];
        Environment.SetEnvironmentVariable(variable, "sk-secret-value");
        try
        {
            using var client = await new ModelCatalog().OpenAsync("m", Model(
                $"{{\"type\": \"openai\", \"endpoint\": \"{server.Endpoint}\", \"model\": \"served-model\", \"api_key_env\": \"{variable}\", \"max_concurrency\": 2}}"), default);
            var batch = Distil.Engine.ConcurrentBatchChatClient.For(client, 8);
            var results = await batch.GetResponsesAsync(Enumerable.Range(0, 6).Select(i => new Distil.Engine.BatchChatRequest([new ChatMessage(ChatRole.User, $"q{i}")])).ToList());

            Assert.All(results, r => Assert.Null(r.Error));
            Assert.All(results, r => Assert.Equal("served-model says hi", r.Response!.Text));
            Assert.Equal(1, results[0].Response!.Usage!.InputTokenCount); // "q0": the server counts 4 characters a token, rounded up
            Assert.Equal(8, server.Requests); // 6 answered + 2 overloaded, retried
            Assert.InRange(server.MaxInFlight, 1, 2);
            Assert.Equal("Bearer sk-secret-value", server.LastAuthorization);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Remote_client_errors_are_not_retried()
    {
        await using var server = new LoopbackOpenAIServer { FailFirst = 100, FailStatus = 400 };
        using var client = await new ModelCatalog().OpenAsync("m", Model($"{{\"type\": \"openai\", \"endpoint\": \"{server.Endpoint}\", \"model\": \"x\"}}"), default);

        await Assert.ThrowsAnyAsync<Exception>(() => client.GetResponseAsync("q"));
        Assert.Equal(1, server.Requests);
    }
}

using Distil.Engine;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Library.Tests;

/// <summary>A tiny local model, built once for the class, which the tests open in-process as the program would.</summary>
public sealed class TinyModelFolder : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _workspace = new("distil-library");

    public string Path => _workspace.Sub("tiny");

    public Task InitializeAsync() => ModelFolderBuilder.EnsureBuiltAsync(Path, "tiny", 7, CancellationToken.None);

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _workspace.Dispose();
}

/// <summary>Any IChatClient of the program is a model, with the program's own decorators around it.</summary>
public sealed class InProcessModelTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>, IDisposable
{
    private const int Prompts = 6;
    private readonly TempFolder _workspace = new("distil-library");

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public async Task Every_call_goes_through_the_programs_decorator_and_a_rerun_reuses_the_cache()
    {
        using var local = OpenTiny();
        var counter = new CallCounter();
        using var client = new ChatClientBuilder(local).Use(inner => new CountingChatClient(inner, counter)).Build();

        var first = await Pipeline(client, "counted-tiny", "1").RunAsync(Options(), CancellationToken.None);
        Assert.Equal(RunStatus.Succeeded, first.Status);
        Assert.Equal(Prompts, counter.Calls); // one request per prompt, each through the decorator
        var generate = first.Steps.Single(s => s.Name == "generate");
        Assert.Equal(Prompts, generate.RowsOut);
        Assert.True(generate.OutputTokens > 0, "the decorated client's token usage reaches the step's metrics");
        Assert.Contains(first.Models, m => m.Name == "gen" && m.Description.Contains("counted-tiny", StringComparison.Ordinal));
        // $2 per million tokens each way, over the tokens the client reported.
        Assert.Equal((generate.InputTokens + generate.OutputTokens) * 2m / 1_000_000m, generate.CostUsd);

        var second = await Pipeline(client, "counted-tiny", "1").RunAsync(Options(), CancellationToken.None);
        Assert.Equal(RunStatus.Succeeded, second.Status);
        Assert.Equal(Prompts, counter.Calls); // same id and version: cached batches, no new call
        Assert.Equal(File.ReadAllText(first.OutputFiles.Single()), File.ReadAllText(second.OutputFiles.Single()));

        // The client is the program's: the runs did not dispose it.
        var answer = await client.GetResponseAsync("still open?", new ChatOptions { MaxOutputTokens = 2 }, CancellationToken.None);
        Assert.Equal(Prompts + 1, counter.Calls);
        Assert.NotNull(answer);
    }

    [Fact]
    public async Task Another_id_or_version_never_reuses_cached_results()
    {
        using var local = OpenTiny();
        var counter = new CallCounter();
        using var client = new ChatClientBuilder(local).Use(inner => new CountingChatClient(inner, counter)).Build();

        var first = await Pipeline(client, "proxy", "1").RunAsync(Options(), CancellationToken.None);
        var newVersion = await Pipeline(client, "proxy", "2").RunAsync(Options(), CancellationToken.None);
        Assert.Equal(2 * Prompts, counter.Calls);
        var otherClient = await Pipeline(client, "other-proxy", "1").RunAsync(Options(), CancellationToken.None);
        Assert.Equal(3 * Prompts, counter.Calls);

        var keys = new[] { first, newVersion, otherClient }.Select(m => m.Steps.Single(s => s.Name == "generate").CacheKey).ToList();
        Assert.Equal(3, keys.Distinct().Count());
    }

    [Fact]
    public void The_JSON_form_names_the_client_and_the_CLI_refuses_to_run_it()
    {
        using var local = OpenTiny();
        var json = Pipeline(local, "acme-proxy", "3").ToJson();
        Assert.Contains("\"type\": \"in_process\"", json, StringComparison.Ordinal);
        Assert.Contains("\"client\": \"acme-proxy\"", json, StringComparison.Ordinal);

        var error = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, "written.json", BuiltInSteps.CreateRegistry()));
        Assert.Contains("$.models.gen.type", error.Message, StringComparison.Ordinal);
        Assert.Contains("in-process IChatClient ('acme-proxy')", error.Message, StringComparison.Ordinal);
    }

    private LocalChatClient OpenTiny() => LocalModel.Load(tiny.Path, new LocalModelOptions { ChatTemplate = "llama3", Threads = 1 });

    private DistilPipeline Pipeline(IChatClient client, string id, string version)
    {
        var prompts = _workspace.Sub("prompts.jsonl");
        if (!File.Exists(prompts))
        {
            File.WriteAllLines(prompts, Enumerable.Range(0, Prompts).Select(i => $$"""{"instruction": "Name a colour, number {{i}}."}"""));
        }

        return DistilPipeline.Create("in-process")
            .Model("gen", client, id, version, new ModelPricing(InputPerMtok: 2, OutputPerMtok: 2))
            .LoadJsonl("load", prompts)
            .Generate("generate", "gen", new GenerationSettings { MaxNewTokens = 8, Temperature = 0.7, Seed = 5 }, new StepOptions { InputBatchSize = 3 })
            .Step("write_jsonl", "write", new { Path = "answers.jsonl", Columns = new[] { "instruction", "generation", "model_name" } });
    }

    private RunOptions Options() => new() { RunsRoot = _workspace.Sub("runs"), OutputDirectory = _workspace.Sub("out") };

    private sealed class CallCounter
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void Add() => Interlocked.Increment(ref _calls);
    }

    /// <summary>The kind of decorator a program adds with ChatClientBuilder.Use: it sees each call on its way to the model.</summary>
    private sealed class CountingChatClient(IChatClient inner, CallCounter counter) : DelegatingChatClient(inner)
    {
        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            counter.Add();
            return base.GetResponseAsync(messages, options, cancellationToken);
        }

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            counter.Add();
            return base.GetStreamingResponseAsync(messages, options, cancellationToken);
        }
    }
}

using Distil.Pipeline.Runtime;
using Distil.Engine;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Pipeline.Tests;

/// <summary>
/// magpie as a source (<c>num_rows</c>) on a real tiny local model: its batches go through the step batch cache, so
/// a rerun calls the model for nothing and a run that extends a finished one computes only the batches it lacks.
/// The model's requests are counted at the client the runtime hands the step.
/// </summary>
public sealed class MagpieSourceCacheTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private PipelineDefinition Define() => _ws.Define("""
        {
          "name": "magpie-source",
          "models": { "writer": { "type": "local", "path": "models/tiny-a", "build": { "preset": "tiny", "seed": 1 }, "chat_template": "llama3", "threads": 1 } },
          "steps": [
            { "name": "magpie", "type": "magpie", "model": "writer", "num_rows": 6, "batch_size": 3, "only_instruction": true,
              "generation": { "max_new_tokens": 6, "temperature": 1.0, "seed": 5 } },
            { "name": "out", "type": "write_jsonl", "path": "rows.jsonl" }
          ]
        }
        """);

    private async Task<(RunManifest Manifest, int Requests, string Rows)> RunAsync(SourceRange range, string output)
    {
        var models = new CountingModels(new ModelCatalog());
        var options = _ws.Options(range: range) with { Models = models, OutputDirectory = Path.Combine(_ws.Root, output) };
        var manifest = await new PipelineRunner().RunAsync(Define(), options, default);
        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        return (manifest, models.Requests, File.ReadAllText(Path.Combine(_ws.Root, output, "rows.jsonl")));
    }

    private static (long Cached, long Computed) Batches(RunManifest manifest) =>
        manifest.Steps.Single(s => s.Name == "magpie") is var step ? (step.CachedBatches, step.ComputedBatches) : default;

    [Fact]
    public async Task A_rerun_makes_no_model_calls_and_writes_the_same_rows()
    {
        var first = await RunAsync(SourceRange.All, "out1");
        Assert.Equal((0, 2), Batches(first.Manifest));
        Assert.Equal(6, first.Requests);

        var again = await RunAsync(SourceRange.All, "out2");

        Assert.Equal(0, again.Requests);
        Assert.Equal((2, 0), Batches(again.Manifest));
        Assert.Equal(first.Rows, again.Rows);
        var magpie = again.Manifest.Steps.Single(s => s.Name == "magpie");
        Assert.Equal(6, magpie.RowsOut);
        Assert.True(magpie.OutputTokens > 0, "the cached batches still report the tokens they cost");
    }

    [Fact]
    public async Task A_run_after_a_partial_one_computes_only_the_missing_batch()
    {
        var partial = await RunAsync(new SourceRange(0, 3), "out1");
        Assert.Equal((0, 1), Batches(partial.Manifest));

        var whole = await RunAsync(SourceRange.All, "out2");

        Assert.Equal((1, 1), Batches(whole.Manifest));
        Assert.Equal(3, whole.Requests);
        Assert.StartsWith(partial.Rows, whole.Rows, StringComparison.Ordinal);
    }

    /// <summary>Opens the real models and counts every request sent to them.</summary>
    private sealed class CountingModels(IModelProvider inner) : IModelProvider
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        public async ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, CancellationToken cancellationToken) =>
            new CountingClient(await inner.OpenAsync(name, definition, cancellationToken), this);

        public void CheckBeforeOpening(PipelineDefinition definition) => inner.CheckBeforeOpening(definition);

        public ValueTask<ModelIdentity> IdentifyAsync(string name, StepParameters definition, CancellationToken cancellationToken) =>
            inner.IdentifyAsync(name, definition, cancellationToken);

        private sealed class CountingClient(IChatClient client, CountingModels owner) : DelegatingChatClient(client), IBatchChatClient
        {
            public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
            {
                Interlocked.Increment(ref owner._requests);
                return base.GetResponseAsync(messages, options, cancellationToken);
            }

            public Task<IReadOnlyList<BatchChatResult>> GetResponsesAsync(IReadOnlyList<BatchChatRequest> requests, CancellationToken cancellationToken = default)
            {
                Interlocked.Add(ref owner._requests, requests.Count);
                return ConcurrentBatchChatClient.For(InnerClient, 1).GetResponsesAsync(requests, cancellationToken);
            }
        }
    }
}

using System.Text.Json;
using Distil.Engine.Reward;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

/// <summary>
/// reward_model on the tiny-reward preset (built from its recipe, as a pipeline's "build" does), opened through the
/// model catalog as the runtime opens it: one reward per response, ratings that preference_pairs and judge_agreement
/// read like any judge's, the model's digest in the cache key, and located refusals.
/// </summary>
public sealed class RewardModelStepTests(RewardModelStepTests.Workspace workspace) : IClassFixture<RewardModelStepTests.Workspace>
{
    /// <summary>The reward model, built once for the class, beside an input file and a definition path.</summary>
    public sealed class Workspace : IAsyncLifetime
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), "distil-reward-step-" + Guid.NewGuid().ToString("N")[..8]);

        public async Task InitializeAsync()
        {
            await ModelFolderBuilder.EnsureBuiltAsync(Path.Combine(Root, "tiny-reward"), "tiny-reward", 5, default);
            File.WriteAllText(Path.Combine(Root, "x.jsonl"), "{\"instruction\": \"hi\", \"generations\": [\"a\", \"b\"]}\n");
        }

        public Task DisposeAsync()
        {
            Directory.Delete(Root, recursive: true);
            return Task.CompletedTask;
        }
    }

    private readonly string _root = workspace.Root;

    private string Folder => Path.Combine(_root, "tiny-reward");

    private string DefinitionFile => Path.Combine(_root, "p.json");

    private async Task<IChatClient> OpenThroughCatalogAsync()
    {
        var entry = new StepParameters(JsonDocument.Parse($$"""{"type": "local", "path": {{JsonSerializer.Serialize(Folder)}}, "threads": 1}""").RootElement.Clone(), "$.models.rm", "p.json", _ => 1);
        return await new ModelCatalog().OpenAsync("rm", entry, default);
    }

    private static Row Answers(long id, string instruction, params object?[] generations) =>
        Steps.Row(id, ("instruction", instruction), ("generations", Steps.List(generations)));

    [Fact]
    public async Task Each_response_gets_the_models_score_and_the_best_becomes_chosen()
    {
        using var client = await OpenThroughCatalogAsync();
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["rm"] = client });
        var rows = new[]
        {
            Answers(0, "What is the capital of France?", "Paris.", "London, probably.", "It is Paris, on the Seine."),
            Answers(1, "Name a prime number.", "7", "Nine"),
            Answers(2, "Say hello.", "Hello!", null),
        };

        var step = (IBatchStep)Steps.Create("""{"name": "rm", "type": "reward_model", "model": "rm", "ratings": true, "batch_size": 3}""");
        var scored = await step.ProcessAsync(rows, context, default);

        using var direct = RewardModel.Open(Folder, new RewardModelOptions { Threads = 1 });
        Assert.Empty(context.Errors);
        foreach (var row in scored)
        {
            var generations = (IReadOnlyList<object?>)row["generations"]!;
            var rewards = (IReadOnlyList<object?>)row["rewards"]!;
            Assert.Equal(generations.Count, rewards.Count);
            for (var i = 0; i < generations.Count; i++)
            {
                if (generations[i] is not string response)
                {
                    Assert.Null(rewards[i]); // a failed generation gets no reward, the others still do
                    continue;
                }

                var expected = direct.Score([(row.GetString("instruction")!, response)], batchSize: 1)[0]!.Value;
                Assert.Equal(expected, (double)rewards[i]!, 5);
            }

            Assert.Equal(rewards, (IReadOnlyList<object?>)row["ratings"]!);
            Assert.Equal("rm", row["judge_model"]);
        }

        var pairs = await ((IBatchStep)Steps.Create("""{"name": "pairs", "type": "preference_pairs"}""")).ProcessAsync(scored, context, default);
        Assert.Equal(2, pairs.Count);
        Assert.Equal(1, context.Dropped[NoPairReason.MissingRatings]); // row 2: its second response has no reward
        foreach (var pair in pairs)
        {
            var source = scored.Single(r => r.Id == pair.Id);
            var rewards = ((IReadOnlyList<object?>)source["rewards"]!).Cast<double>().ToList();
            var generations = (IReadOnlyList<object?>)source["generations"]!;
            Assert.Equal(generations[rewards.IndexOf(rewards.Max())], Content(pair["chosen"]));
            Assert.Equal(generations[rewards.IndexOf(rewards.Min())], Content(pair["rejected"]));
            Assert.Equal(rewards.Max(), (double)pair["chosen_rating"]!, 10);
        }
    }

    [Fact]
    public async Task Judge_agreement_takes_rewards_as_one_of_the_judges()
    {
        using var client = await OpenThroughCatalogAsync();
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["rm"] = client });
        var rows = new[] { Answers(0, "Pick a colour.", "Blue.", "Red is the colour I pick, because it is bright."), Answers(1, "Count to three.", "1, 2, 3", "one two") };
        var scored = await ((IBatchStep)Steps.Create("""{"name": "rm", "type": "reward_model", "model": "rm"}""")).ProcessAsync(rows, context, default);

        // A second judge that agrees with the reward model on row 0 and disagrees on row 1.
        foreach (var row in scored)
        {
            var rewards = ((IReadOnlyList<object?>)row["rewards"]!).Cast<double>().ToList();
            var best = rewards.IndexOf(rewards.Max());
            var pick = row.Id == 0 ? best : 1 - best;
            row["uf_ratings"] = Steps.List(pick == 0 ? 5L : 2L, pick == 1 ? 5L : 2L);
        }

        var agreed = await ((IBatchStep)Steps.Create("""{"name": "agree", "type": "judge_agreement", "ratings": ["uf_ratings", "rewards"]}""")).ProcessAsync(scored, context, default);
        Assert.Equal([true, false], agreed.Select(r => r["judges_agree"]));
        Assert.Equal(2, context.Tallies[JudgeAgreementStep.Comparable]);
        Assert.Equal(1, context.Tallies[JudgeAgreementStep.SameBest]);
    }

    [Fact]
    public async Task A_single_response_column_gets_a_single_reward_and_a_model_path_needs_no_models_entry()
    {
        var step = (IBatchStep)Steps.Create($$"""{"name": "rm", "type": "reward_model", "model_path": {{JsonSerializer.Serialize(Folder)}}, "column": "generation", "prompt_column": "question", "output_column": "score", "threads": 1}""");
        Assert.False(step.CachesBatches); // no identity in the cache key for a bare folder: recomputed, never trusted
        var context = new RecordingStepContext(new Dictionary<string, IChatClient>());
        var rows = new[] { Steps.Row(0, ("question", "Why is the sky blue?"), ("generation", "Rayleigh scattering.")), Steps.Row(1, ("generation", "orphan")) };

        var scored = await step.ProcessAsync(rows, context, default);

        using var direct = RewardModel.Open(Folder, new RewardModelOptions { Threads = 1 });
        Assert.Equal(direct.Score([("Why is the sky blue?", "Rayleigh scattering.")], 1)[0]!.Value, (double)scored[0]["score"]!, 5);
        Assert.Contains("'question'", context.Errors[1]);
    }

    [Fact]
    public async Task Over_long_responses_are_tallied_and_left_unscored()
    {
        using var client = await OpenThroughCatalogAsync();
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["rm"] = client });
        var rows = new[] { Answers(0, "Q?", "short", string.Join(" ", Enumerable.Repeat("a long answer", 40))) };
        var scored = await ((IBatchStep)Steps.Create("""{"name": "rm", "type": "reward_model", "model": "rm", "max_tokens": 40}""")).ProcessAsync(rows, context, default);
        var rewards = (IReadOnlyList<object?>)scored[0]["rewards"]!;
        Assert.NotNull(rewards[0]);
        Assert.Null(rewards[1]);
        Assert.Equal(1, context.Tallies[RewardModelStep.TooLong]);

        var cut = await ((IBatchStep)Steps.Create("""{"name": "rm", "type": "reward_model", "model": "rm", "max_tokens": 40, "truncation": "left"}""")).ProcessAsync(rows, context, default);
        Assert.All((IReadOnlyList<object?>)cut[0]["rewards"]!, Assert.NotNull);
    }

    [Fact]
    public async Task A_reward_model_refuses_to_generate_text()
    {
        using var client = await OpenThroughCatalogAsync();
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")]));
        Assert.Contains("reward model", e.Message);
    }

    [Fact]
    public void The_models_digest_is_in_the_step_cache_key()
    {
        var json = """{"name": "p", "models": {"rm": {"type": "local", "path": "tiny-reward"}}, "steps": [{"name": "load", "type": "load_jsonl", "path": "x.jsonl"}, {"name": "score", "type": "reward_model", "after": ["load"], "model": "rm"}]}""";
        var definition = PipelineDefinition.Parse(json, DefinitionFile, Steps.Registry);
        var step = definition["score"];
        var one = StepCacheKey.Compute(step, new Dictionary<string, ModelIdentity> { ["rm"] = new("rm", "aaaa", "") });
        var other = StepCacheKey.Compute(step, new Dictionary<string, ModelIdentity> { ["rm"] = new("rm", "bbbb", "") });
        Assert.NotEqual(one, other);
        Assert.True(((IBatchStep)step.Step).CachesBatches);
    }

    [Theory]
    [InlineData("""{"type": "openai", "endpoint": "http://127.0.0.1:9/v1", "model": "m"}""", "\"model\": \"rm\"", "$.steps[1].model", "needs a local reward model")]
    [InlineData("""{"type": "local", "path": "tiny-reward"}""", "\"model\": \"rm\", \"model_path\": \"rm\"", "$.steps[1].model_path", "exactly one of 'model'")]
    [InlineData("""{"type": "local", "path": "tiny-reward"}""", "\"model\": \"rm\", \"truncation\": \"right\"", "$.steps[1].truncation", "unknown truncation")]
    [InlineData("""{"type": "local", "path": "tiny-reward"}""", "\"model\": \"rm\", \"batch_size\": 0", "$.steps[1].batch_size", "batch_size")]
    [InlineData("""{"type": "local", "path": "tiny-reward"}""", "\"model\": \"rm\", \"threads\": 2", "$.steps[1].threads", "entry")]
    [InlineData("""{"type": "local", "path": "tiny-reward"}""", "\"model_path\": \"no/such/folder\"", "$.steps[1].model_path", "not found")]
    public void Bad_definitions_are_refused_at_their_json_path(string model, string parameters, string path, string message)
    {
        var json = $$"""{"name": "p", "models": {"rm": {{model}}}, "steps": [{"name": "load", "type": "load_jsonl", "path": "x.jsonl"}, {"name": "score", "type": "reward_model", "after": ["load"], {{parameters}}}]}""";
        var e = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, DefinitionFile, Steps.Registry));
        var problem = Assert.Single(e.Problems.Count > 0 ? e.Problems : [e], p => p.JsonPath!.StartsWith("$.steps", StringComparison.Ordinal));
        Assert.Equal(path, problem.JsonPath);
        Assert.Contains(message, problem.Message);
    }

    [Fact]
    public void A_chat_model_folder_named_as_the_reward_model_is_refused_at_the_model_field()
    {
        var chat = Path.Combine(_root, "tiny-chat-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(chat);
        File.WriteAllText(Path.Combine(chat, "config.json"), File.ReadAllText(Path.Combine(Folder, "config.json")).Replace("ForSequenceClassification", "ForCausalLM", StringComparison.Ordinal));
        var entry = $$"""{"type": "local", "path": {{JsonSerializer.Serialize(chat)}}}""";
        var json = $$$"""{"name": "p", "models": {"rm": {{{entry}}}}, "steps": [{"name": "load", "type": "load_jsonl", "path": "x.jsonl"}, {"name": "score", "type": "reward_model", "after": ["load"], "model": "rm"}]}""";
        var e = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, DefinitionFile, Steps.Registry));
        var problem = Assert.Single(e.Problems.Count > 0 ? e.Problems : [e], p => p.JsonPath!.StartsWith("$.steps", StringComparison.Ordinal));
        Assert.Equal("$.steps[1].model", problem.JsonPath);
        Assert.Contains("not a reward model", problem.Message);
    }

    private static string? Content(object? messages) => messages switch
    {
        string text => text,
        IReadOnlyList<object?> list => (list[^1] as IReadOnlyDictionary<string, object?>)?["content"] as string,
        _ => null,
    };
}

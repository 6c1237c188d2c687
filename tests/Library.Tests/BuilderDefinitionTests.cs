using System.Text;
using System.Text.Json;
using Distil.Pipeline;
using Distil.Steps;

namespace Distil.Library.Tests;

/// <summary>The builder writes the definition the JSON form holds, and it parses into the same pipeline.</summary>
public sealed class BuilderDefinitionTests
{
    /// <summary>pipelines/ultrafeedback-dpo.json, call for call.</summary>
    private static DistilPipeline SeedPipeline()
    {
        var tiny = (string folder, ulong seed) => new LocalModelSettings($"../models/{folder}") { Build = new ModelBuild("tiny", seed), ChatTemplate = "llama3", Threads = 1 };
        var sampling = (long seed) => new GenerationSettings { MaxNewTokens = 48, Temperature = 0.7, TopP = 0.95, Seed = seed };
        var batched = new StepOptions { After = ["load"], InputBatchSize = 16, MaxParallelism = 2 };
        return DistilPipeline.Create("ultrafeedback-dpo")
            .LocalModel("gen-a", tiny("tiny-a", 1))
            .LocalModel("gen-b", tiny("tiny-b", 2))
            .LocalModel("judge", tiny("tiny-judge", 3))
            .LoadJsonl("load", "data/prompts-mini.jsonl")
            .Generate("gen_a", "gen-a", sampling(11), batched)
            .Generate("gen_b", "gen-b", sampling(12), batched)
            .Combine("combine", ["generation", "model_name", "prompt_messages", "generation_tokens"],
                ["generations", "model_names", "generation_prompts", "generation_tokens"], StepOptions.AfterSteps("gen_a", "gen_b"))
            .UltraFeedback("judge", new UltraFeedbackTask("judge") { Aspect = "overall-rating", RationaleMaxLength = 48, Generation = new GenerationSettings { Temperature = 0.7, Seed = 13 } },
                new StepOptions { After = ["combine"], InputBatchSize = 16, MaxParallelism = 2 })
            .PreferencePairs("pairs", new PreferencePairsSettings { Strategy = "best_vs_worst", MinMargin = 1 }, StepOptions.AfterSteps("judge"))
            .WriteParquet("write", "data.parquet",
                ["prompt", "chosen", "rejected", "prompt_id", "chosen_rating", "rejected_rating", "chosen_model",
                 "rejected_model", "ratings", "judge_model", "chosen_tokens", "rejected_tokens", "topic", "generations", "model_names", "rationales"],
                StepOptions.AfterSteps("pairs"))
            .DatasetCard("card", ["data.parquet"], StepOptions.AfterSteps("pairs"));
    }

    [Fact]
    public void The_seed_pipeline_built_in_CSharp_is_the_shipped_JSON()
    {
        var shipped = File.ReadAllText(TestRepository.File("pipelines/ultrafeedback-dpo.json"));
        Assert.Equal(Canonical(shipped), Canonical(SeedPipeline().ToJson()));
    }

    [Fact]
    public void The_built_definition_parses_into_the_same_graph_as_the_file()
    {
        var file = TestRepository.File("pipelines/ultrafeedback-dpo.json");
        var loaded = PipelineDefinition.Load(file, BuiltInSteps.CreateRegistry());
        var built = SeedPipeline().RelativeTo(Path.GetDirectoryName(file)!).Build();

        Assert.Equal(Describe(loaded), Describe(built));
        Assert.Equal(loaded.Models["gen-a"].GetPath("path"), built.Models["gen-a"].GetPath("path"));
    }

    [Fact]
    public void The_escape_hatch_takes_any_registered_step_and_refuses_unknown_keys_with_their_path()
    {
        var pipeline = DistilPipeline.Create("hatch")
            .Step("load_jsonl", "load", new { Path = TestRepository.File("pipelines/data/prompts-mini.jsonl") })
            .Step("filter", "short", new { Column = "instruction", Op = "not_null" })
            .Step("write_jsonl", "write", new { Path = "out.jsonl", Colour = "blue" });

        var error = Assert.Throws<PipelineDefinitionException>(pipeline.Build);
        Assert.Contains("$.steps[2].colour", error.Message, StringComparison.Ordinal);
        Assert.Contains("has no parameter", error.Message, StringComparison.Ordinal);
    }

    private static IReadOnlyList<string> Describe(PipelineDefinition definition) =>
        [.. definition.Steps.Select(s => $"{s.Name}:{s.Type.Name} after [{string.Join(",", s.After)}] batch {s.InputBatchSize} x{s.MaxParallelism} model {s.Model} out [{string.Join(",", s.ColumnsOut ?? [])}]")];

    private static string Canonical(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            CanonicalJson.Write(writer, document.RootElement);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

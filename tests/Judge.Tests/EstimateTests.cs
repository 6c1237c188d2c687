using System.Text.Json;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Judge.Tests;

/// <summary>
/// <c>distil estimate</c>: the first rows run for real in a scratch folder, and tokens, money and time are projected
/// for the whole input (its row count read from the source).
/// </summary>
[Collection(TinyModelCollection.Name)]
public class EstimateTests(TinyModels models, Xunit.Abstractions.ITestOutputHelper log)
{
    [Fact]
    public async Task A_sample_of_a_quarter_projects_the_whole_runs_tokens_within_20_percent_on_the_tiny_models()
    {
        var folder = Path.Combine(models.Root, "estimate-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(folder);
        var prompts = File.ReadLines(TestRepository.File("pipelines/data/prompts-mini.jsonl")).Take(16);
        File.WriteAllLines(Path.Combine(folder, "prompts.jsonl"), prompts);
        var path = Path.Combine(folder, "tiny.json");
        File.WriteAllText(path, $$"""
            {
              "name": "tiny-estimate",
              "models": {
                "gen-a": { "type": "local", "path": {{JsonSerializer.Serialize(models.A)}}, "chat_template": "llama3", "threads": 1, "price": { "input_per_mtok": 0.1, "output_per_mtok": 0.4 } },
                "gen-b": { "type": "local", "path": {{JsonSerializer.Serialize(models.B)}}, "chat_template": "llama3", "threads": 1 }
              },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                { "name": "gen_a", "type": "text_generation", "after": ["load"], "model": "gen-a", "input_batch_size": 4, "generation": { "max_new_tokens": 6, "temperature": 0.7, "seed": 1 } },
                { "name": "gen_b", "type": "text_generation", "after": ["load"], "model": "gen-b", "input_batch_size": 4, "generation": { "max_new_tokens": 6, "temperature": 0.7, "seed": 2 } },
                { "name": "combine", "type": "combine_columns", "after": ["gen_a", "gen_b"], "columns": ["generation", "model_name"], "output_columns": ["generations", "model_names"] },
                { "name": "judge", "type": "ultrafeedback", "after": ["combine"], "model": "gen-a", "aspect": "overall-rating", "input_batch_size": 4, "rationale_max_length": 16, "generation": { "temperature": 0.7, "seed": 3 } },
                { "name": "write", "type": "write_parquet", "after": ["judge"], "path": "data.parquet", "columns": ["instruction", "generations", "ratings"] }
              ]
            }
            """);
        var definition = PipelineDefinition.Load(path, BuiltInSteps.CreateRegistry());
        var scratch = Path.Combine(folder, "scratch");

        var estimate = await RunEstimate.MeasureAsync(definition, new RunOptions { Models = new ModelCatalog() }, 4, scratch, default);
        var real = await new PipelineRunner().RunAsync(
            PipelineDefinition.Load(path, BuiltInSteps.CreateRegistry()), // sinks hold their run's state: one definition, one run
            new RunOptions { RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = Path.Combine(folder, "out"), Models = new ModelCatalog() },
            default);

        Assert.Equal(16, estimate.InputRows);
        Assert.Equal(4, estimate.SampleRows);
        var realInput = real.Steps.Sum(s => s.InputTokens);
        var realOutput = real.Steps.Sum(s => s.OutputTokens);
        log.WriteLine($"projected {estimate.ProjectedInputTokens} in / {estimate.ProjectedOutputTokens} out; real {realInput} in / {realOutput} out");
        Assert.InRange(estimate.ProjectedInputTokens, realInput * 0.8, realInput * 1.2);
        Assert.InRange(estimate.ProjectedOutputTokens, realOutput * 0.8, realOutput * 1.2);
        var gen = estimate.Steps.Single(s => s.Name == "gen_a");
        Assert.Equal(gen.SampleInputTokens * 4, gen.ProjectedInputTokens); // 16 rows from a sample of 4
        Assert.NotNull(estimate.ProjectedCostUsd);
        Assert.Null(estimate.Steps.Single(s => s.Name == "gen_b").ProjectedCostUsd); // no price, no money
        Assert.Equal(0, real.Steps.Sum(s => s.CachedBatches)); // the sample's batches were not left where the run looks
    }

    [Fact]
    public async Task The_estimate_command_projects_money_for_the_whole_input_and_leaves_no_run_folder()
    {
        await using var server = ServedPipeline.Server();
        var folder = Path.Combine(Path.GetTempPath(), "distil-estimate-cli-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var path = ServedPipeline.Write(folder, server, rows: 24);

            var (code, stdout, stderr) = await DistilProcess.RunAsync(folder, "estimate", path, "--sample", "6", "--json");

            Assert.True(code == 0, stderr);
            using var json = JsonDocument.Parse(stdout);
            var root = json.RootElement;
            Assert.Equal(24, root.GetProperty("input_rows").GetInt64());
            Assert.Equal(6, root.GetProperty("sample_rows").GetInt64());
            Assert.Equal(root.GetProperty("sample_cost_usd").GetDecimal() * 4, root.GetProperty("projected_cost_usd").GetDecimal());
            // The sample is what the server answered: 6 prompts per generator and 6 judge prompts.
            Assert.Equal(18, server.Delivered.Values.Sum());
            var judge = root.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "judge");
            Assert.Equal(server.UsageByModel["judge-served"].Input, judge.GetProperty("sample_input_tokens").GetInt64());
            Assert.False(Directory.Exists(Path.Combine(folder, "runs")), "estimate wrote into the run folder");
            Assert.False(Directory.Exists(Path.Combine(folder, "outputs")), "estimate wrote outputs");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

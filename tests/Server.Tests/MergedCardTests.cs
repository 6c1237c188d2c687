using System.Text;
using System.Text.Json;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Server.Tests.Infrastructure;
using Distil.Steps;

namespace Distil.Server.Tests;

/// <summary>The dataset card of a sharded run describes the whole merged dataset, as a single-process run's card does.</summary>
public sealed class MergedCardTests : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Merged_card_states_every_shards_rows_like_the_single_process_card()
    {
        var pipeline = WritePipeline("carded", rows: 64);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 15);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));
        Assert.Equal(5, run.GetProperty("run").GetProperty("shards_done").GetInt32());

        var output = run.GetProperty("run").GetProperty("output").GetString()!;
        // The same engine `distil run` drives (the helper's row reader cannot read the list column, hence not Datasets).
        var singleOutput = Path.Combine(_workspace.Root, "single", "carded");
        await new PipelineRunner().RunAsync(PipelineDefinition.Load(pipeline, BuiltInSteps.CreateRegistry()), new RunOptions
        {
            OutputDirectory = singleOutput,
            RunsRoot = Path.Combine(_workspace.Root, "single-runs"),
        }, CancellationToken.None);
        var single = await File.ReadAllTextAsync(Path.Combine(singleOutput, "README.md"));
        var merged = await File.ReadAllTextAsync(Path.Combine(output, "README.md"));

        // 64 rows, the filter drops those with n % 4 == 3: 48, spread over all five shards.
        Assert.Contains("| rows | 48 |", single);
        Assert.Contains("## Ratings", single);
        Assert.Contains("## Models", single);
        Assert.DoesNotContain("| input tokens | 0 |", single);
        Assert.Equal(WithoutClockLines(single), WithoutClockLines(merged));
        using var parquet = new ParquetSharp.ParquetFileReader(Path.Combine(output, "rows.parquet"));
        Assert.Equal(48, parquet.FileMetaData.NumRows);
    }

    [Fact]
    public async Task Merged_card_states_the_whole_runs_cost_like_the_single_process_card()
    {
        var pipeline = WritePricedPipeline("priced", rows: 30);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 10);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(120));
        Assert.Equal(3, run.GetProperty("run").GetProperty("shards_done").GetInt32());
        var merged = await File.ReadAllTextAsync(Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "README.md"));

        var singleOutput = Path.Combine(_workspace.Root, "single", "priced");
        var manifest = await new PipelineRunner().RunAsync(PipelineDefinition.Load(pipeline, BuiltInSteps.CreateRegistry()), new RunOptions
        {
            OutputDirectory = singleOutput,
            RunsRoot = Path.Combine(_workspace.Root, "single-runs"),
            Models = new ModelCatalog(),
        }, CancellationToken.None);
        var single = await File.ReadAllTextAsync(Path.Combine(singleOutput, "README.md"));

        var cost = Section(single, "## Cost");
        Assert.Contains("| generate | `tiny` |", cost, StringComparison.Ordinal);
        Assert.True(manifest.CostUsd > 0, "the priced model's tokens cost something");
        Assert.Equal(cost, Section(merged, "## Cost"));
    }

    /// <summary>From <paramref name="heading"/> to the next heading.</summary>
    private static string Section(string card, string heading)
    {
        var start = card.IndexOf(heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no '{heading}' section in:\n{card}");
        var end = card.IndexOf("\n## ", start + heading.Length, StringComparison.Ordinal);
        return end < 0 ? card[start..] : card[start..end];
    }

    /// <summary>Prompts answered by one tiny local model with a price, a card over the answers.</summary>
    private string WritePricedPipeline(string name, int rows)
    {
        Directory.CreateDirectory(Path.Combine(_workspace.Root, "data"));
        File.WriteAllLines(Path.Combine(_workspace.Root, "data", $"{name}.jsonl"), Enumerable.Range(0, rows).Select(i => $$"""{"instruction": "Explain idea number {{i}}."}"""));
        var path = Path.Combine(_workspace.Root, "pipelines", $"{name}.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, $$"""
            {
              "name": "{{name}}",
              "models": {
                "tiny": { "type": "local", "path": "../models/tiny", "build": { "preset": "tiny", "seed": 1 }, "chat_template": "llama3", "threads": 1,
                          "price": { "input_per_mtok": 0.5, "output_per_mtok": 1.5 } }
              },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/{{name}}.jsonl" },
                { "name": "generate", "type": "text_generation", "model": "tiny", "input_batch_size": 5,
                  "generation": { "max_new_tokens": 8, "temperature": 0.7, "seed": 3 } },
                { "name": "write", "type": "write_parquet", "path": "answers.parquet" },
                { "name": "card", "type": "dataset_card", "after": ["generate"], "data_files": ["answers.parquet"] }
              ]
            }
            """);
        return path;
    }

    /// <summary>The run's duration and the minute the card was written are the only lines that may differ.</summary>
    private static string WithoutClockLines(string card) =>
        string.Join('\n', card.Split('\n').Where(l => !l.StartsWith("| time |", StringComparison.Ordinal) && !l.StartsWith("| created |", StringComparison.Ordinal)));

    /// <summary>Judged-looking rows (ratings, chosen/rejected/judge models, token counts), so every card section has content.</summary>
    private string WritePipeline(string name, int rows)
    {
        var models = new[] { "alpha", "beta", "gamma" };
        var data = new StringBuilder();
        for (var i = 0; i < rows; i++)
        {
            data.Append(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["n"] = i,
                ["bucket"] = i % 4,
                ["prompt"] = $"Explain idea number {i}.",
                ["ratings"] = new[] { i % 5 + 1, (i * 7) % 5 + 1 },
                ["chosen_model"] = models[i % 3],
                ["rejected_model"] = models[(i + 1 + i / 3) % 3],
                ["judge_model"] = i % 2 == 0 ? "judge-a" : "judge-b",
                ["generate_input_tokens"] = 10 + i,
                ["generate_output_tokens"] = 3 * i,
            })).Append('\n');
        }

        Directory.CreateDirectory(Path.Combine(_workspace.Root, "data"));
        File.WriteAllText(Path.Combine(_workspace.Root, "data", $"{name}.jsonl"), data.ToString());
        var path = Path.Combine(_workspace.Root, "pipelines", $"{name}.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, $$"""
            {
              "name": "{{name}}",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/{{name}}.jsonl" },
                { "name": "some", "type": "filter", "column": "bucket", "op": "ne", "value": 3 },
                { "name": "write", "type": "write_parquet", "after": ["some"], "path": "rows.parquet" },
                { "name": "card", "type": "dataset_card", "after": ["some"], "data_files": ["rows.parquet"], "tags": ["test"] }
              ]
            }
            """);
        return path;
    }

    public void Dispose() => _workspace.Dispose();
}

using System.Globalization;
using System.Text.RegularExpressions;
using Distil.Steps;

namespace Distil.Pipeline.Tests;

/// <summary>
/// The step cache over the real CLI and real tiny ONNX models: batches are keyed by step settings, the
/// identity of the models they call and the content of their input rows, so an edit recomputes exactly what
/// it changes, and <c>--plan</c> says so before anything runs.
/// </summary>
public sealed partial class StepCacheTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    /// <summary>The seed pipeline's shape on three tiny models, 8 prompts in batches of 4 (2 batches per model step).</summary>
    private static string Definition(string comment = "", double temperatureA = 0.7, string prettyName = "first", int minMargin = 0, bool reformat = false) => $$"""
        // {{comment}}
        {
          "name": "cached",
          "models": {
            "gen-a": { "type": "local", "path": "models/a", "build": { "preset": "tiny", "seed": 1 }, "chat_template": "llama3", "threads": 1 },
            "gen-b": { "type": "local", "path": "models/b", "build": { "preset": "tiny", "seed": 2 }, "chat_template": "llama3", "threads": 1 },
            "judge": { "type": "local", "path": "models/j", "build": { "preset": "tiny", "seed": 3 }, "chat_template": "llama3", "threads": 1 }
          },
          "steps": [
            { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
            { "name": "gen_a", "type": "text_generation", "after": ["load"], "model": "gen-a", "input_batch_size": 4,
              "generation": { "max_new_tokens": 4, "temperature": {{temperatureA.ToString(System.Globalization.CultureInfo.InvariantCulture)}}, "seed": 11 } },
            { "name": "gen_b", "type": "text_generation", "after": ["load"], "model": "gen-b", "input_batch_size": 4,
              "generation": {{(reformat ? "{\n \"max_new_tokens\": 4,\n \"temperature\": 0.70, \"seed\": 12 }" : "{ \"seed\": 12, \"temperature\": 0.7, \"max_new_tokens\": 4 }")}} },
            { "name": "combine", "type": "combine_columns", "after": ["gen_a", "gen_b"],
              "columns": ["generation", "model_name"], "output_columns": ["generations", "model_names"] },
            { "name": "judge", "type": "ultrafeedback", "after": ["combine"], "model": "judge", "aspect": "overall-rating",
              "input_batch_size": 4, "rationale_max_length": 8, "generation": { "temperature": 0.7, "seed": 13 } },
            { "name": "pairs", "type": "preference_pairs", "after": ["judge"], "min_margin": {{minMargin}} },
            { "name": "write", "type": "write_parquet", "after": ["pairs"], "path": "data.parquet" },
            { "name": "card", "type": "dataset_card", "after": ["pairs"], "data_files": ["data.parquet"], "pretty_name": "{{prettyName}}" }
          ]
        }
        """;

    private static readonly string[] ModelSteps = ["gen_a", "gen_b", "judge"];

    [Fact]
    public async Task Edits_and_model_swaps_recompute_exactly_what_they_change_and_the_plan_says_so_first()
    {
        _ws.WritePrompts(8);
        _ws.Write("pipeline.json", Definition());
        var first = await RunAsync();
        Assert.All(ModelSteps, s => Assert.Equal((0, 2), Batches(first, s)));
        Assert.All(first.Models, m => Assert.Contains(m.Digest, File.ReadAllText(Path.Combine(_ws.Outputs, "README.md")), StringComparison.Ordinal));

        // A comment, another card title, another pairing margin and reordered generation keys: no model batch is recomputed.
        _ws.Write("pipeline.json", Definition(comment: "edited", prettyName: "renamed", minMargin: 1, reformat: true));
        var plan = await PlanAsync();
        Assert.All(ModelSteps, s => Assert.Equal((2, 0), plan[s]));
        var edited = await RunAsync();
        Assert.NotEqual(first.Fingerprint, edited.Fingerprint);
        Assert.All(ModelSteps, s => Assert.Equal((2, 0), Batches(edited, s)));
        Assert.Contains("renamed", File.ReadAllText(Path.Combine(_ws.Outputs, "README.md")), StringComparison.Ordinal);

        // gen_a's temperature: gen_a and the judge (whose input changes) recompute, gen_b does not.
        _ws.Write("pipeline.json", Definition(temperatureA: 0.9));
        plan = await PlanAsync();
        Assert.Equal((0, 2), plan["gen_a"]);
        Assert.Equal((2, 0), plan["gen_b"]);
        Assert.Equal((0, 2), plan["judge"]);
        var hotter = await RunAsync();
        Assert.Equal((0, 2), Batches(hotter, "gen_a"));
        Assert.Equal((2, 0), Batches(hotter, "gen_b"));
        Assert.Equal((0, 2), Batches(hotter, "judge"));

        // Same definition, same folder, other weights (another seed's tiny model copied over gen-a's files):
        // gen-a's identity changes, so gen_a and the judge recompute; gen_b is reused.
        var other = Path.Combine(_ws.Root, "other-weights");
        await ModelFolderBuilder.EnsureBuiltAsync(other, "tiny", 7, default);
        foreach (var file in Directory.GetFiles(other, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(_ws.Root, "models", "a", Path.GetRelativePath(other, file)), overwrite: true);
        }

        plan = await PlanAsync();
        Assert.Equal((0, 2), plan["gen_a"]);
        Assert.Equal((2, 0), plan["gen_b"]);
        var swapped = await RunAsync();
        Assert.Equal(hotter.Fingerprint, swapped.Fingerprint);
        Assert.NotEqual(hotter.Models.Single(m => m.Name == "gen-a").Digest, swapped.Models.Single(m => m.Name == "gen-a").Digest);
        Assert.Equal(hotter.Models.Single(m => m.Name == "gen-b").Digest, swapped.Models.Single(m => m.Name == "gen-b").Digest);
        Assert.Equal((0, 2), Batches(swapped, "gen_a"));
        Assert.Equal((2, 0), Batches(swapped, "gen_b"));
        Assert.Equal((0, 2), Batches(swapped, "judge"));
    }

    private static (long Cached, long Computed) Batches(RunManifest manifest, string step)
    {
        var metrics = manifest.Steps.Single(s => s.Name == step);
        return (metrics.CachedBatches, metrics.ComputedBatches);
    }

    private async Task<RunManifest> RunAsync()
    {
        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out");
        Assert.True(code == 0, stderr + stdout);
        var runDirectory = RunDirectoryLine().Match(stdout).Groups[1].Value.Trim();
        return RunManifest.Read(Path.Combine(runDirectory, RunManifest.FileName));
    }

    private async Task<Dictionary<string, (long Reusable, long ToCompute)>> PlanAsync()
    {
        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out", "--plan");
        Assert.True(code == 0, stderr + stdout);
        return PlanLine().Matches(stdout).ToDictionary(m => m.Groups[1].Value, m => (long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));
    }

    [GeneratedRegex(@"run directory (.+)")]
    private static partial Regex RunDirectoryLine();

    [GeneratedRegex(@"^\s+(\w+): (\d+) batches reusable, (\d+) to compute", RegexOptions.Multiline)]
    private static partial Regex PlanLine();
}

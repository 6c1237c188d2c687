using System.Globalization;
using System.Security.Cryptography;
using Distil.Pipeline;

namespace Distil.Judge.Tests;

/// <summary>
/// <c>budget_usd</c> stops a run cleanly (real CLI processes against the loopback server): finished batches kept,
/// manifest cancelled with reason budget, exit code 3; raising the budget resumes the same run folder and gives
/// the dataset of a run that was never stopped.
/// </summary>
public class BudgetTests
{
    [Fact]
    public async Task A_run_stopped_by_its_budget_resumes_with_a_higher_one_to_the_uninterrupted_dataset()
    {
        await using var server = ServedPipeline.Server();
        var root = Path.Combine(Path.GetTempPath(), "distil-budget-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            // The reference: the same pipeline, never stopped.
            var reference = Path.Combine(root, "reference");
            ServedPipeline.Write(reference, server, rows: 24);
            var (code, stdout, stderr) = await RunAsync(reference);
            Assert.True(code == 0, stderr);
            var full = ManifestIn(reference);
            var cost = full.CostUsd!.Value;
            Assert.Contains($"cost ${cost.ToString("0.######", CultureInfo.InvariantCulture)}", stdout, StringComparison.Ordinal);

            // Stopped at 40 % of what the whole run costs.
            var budgeted = Path.Combine(root, "budgeted");
            var stopAt = decimal.Round(cost * 0.4m, 6);
            ServedPipeline.Write(budgeted, server, rows: 24, $"\"budget_usd\": {stopAt.ToString(CultureInfo.InvariantCulture)},");
            (code, _, stderr) = await RunAsync(budgeted);
            Assert.True(code == 3, $"exit {code}: {stderr}");
            Assert.Contains("budget", stderr, StringComparison.Ordinal);
            var stopped = ManifestIn(budgeted);
            Assert.Equal(RunStatus.Cancelled, stopped.Status);
            Assert.Equal(RunStatus.BudgetReason, stopped.Reason);
            Assert.Equal(stopAt, stopped.BudgetUsd);
            Assert.True(stopped.Steps.Sum(s => s.ComputedBatches) > 0, "no batch was finished before the budget ran out");
            Assert.True(stopped.CostUsd < cost, $"the stopped run recorded {stopped.CostUsd} of {cost}");
            Assert.False(File.Exists(Path.Combine(budgeted, "out", "data.parquet")), "a stopped run published its output");

            // The same budget again: what the cache cost already reaches it.
            (code, _, _) = await RunAsync(budgeted);
            Assert.Equal(3, code);

            // A higher budget in the definition: the same run folder, resumed from its cached batches.
            ServedPipeline.Write(budgeted, server, rows: 24, "\"budget_usd\": 1000,");
            (code, _, stderr) = await RunAsync(budgeted);
            Assert.True(code == 0, stderr);
            var resumed = ManifestIn(budgeted);
            Assert.Equal(RunStatus.Succeeded, resumed.Status);
            Assert.True(resumed.Steps.Sum(s => s.CachedBatches) > 0, "the resumed run recomputed everything");
            Assert.Equal(cost, resumed.CostUsd); // the whole dataset's cost, cached batches included
            Assert.Equal(Digest(Path.Combine(reference, "out", "data.parquet")), Digest(Path.Combine(budgeted, "out", "data.parquet")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("\"ten\"")]
    public void A_budget_that_is_not_a_positive_amount_is_reported_with_its_line(string budget)
    {
        var json = $$"""
            {
              "name": "p",
              "budget_usd": {{budget}},
              "steps": [ { "name": "load", "type": "load_jsonl", "path": "in.jsonl" } ]
            }
            """;

        var error = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, "p.json", Distil.Steps.BuiltInSteps.CreateRegistry()));

        var problem = Assert.Single(error.Problems, p => p.JsonPath == "$.budget_usd");
        Assert.Equal(3, problem.Line);
    }

    [Fact]
    public void The_budget_is_not_part_of_the_run_fingerprint_so_raising_it_resumes_the_same_run()
    {
        var input = Path.GetTempFileName();
        File.WriteAllText(input, "{\"instruction\": \"hi\"}\n");
        string Text(string budget) => $$"""{"name": "p", {{budget}} "steps": [ { "name": "load", "type": "load_jsonl", "path": {{System.Text.Json.JsonSerializer.Serialize(input)}} } ]}""";
        var registry = Distil.Steps.BuiltInSteps.CreateRegistry();

        var low = PipelineDefinition.Parse(Text("\"budget_usd\": 1,"), "p.json", registry);
        var high = PipelineDefinition.Parse(Text("\"budget_usd\": 50,"), "p.json", registry);

        Assert.Equal(low.FingerprintText, high.FingerprintText);
        Assert.Equal(50m, high.BudgetUsd);
        Assert.NotEqual(low.Json, high.Json);
        File.Delete(input);
    }

    private static Task<DistilResult> RunAsync(string folder) =>
        DistilProcess.RunAsync(folder, "run", Path.Combine(folder, "served-dpo.json"), "--runs", Path.Combine(folder, "runs"), "-o", Path.Combine(folder, "out"));

    /// <summary>The manifest of the folder's only run directory (raising the budget must not start another).</summary>
    private static RunManifest ManifestIn(string folder)
    {
        var run = Assert.Single(Directory.GetDirectories(Path.Combine(folder, "runs", "served-dpo")), d => File.Exists(Path.Combine(d, RunManifest.FileName)));
        return RunManifest.Read(Path.Combine(run, RunManifest.FileName));
    }

    private static string Digest(string file) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
}

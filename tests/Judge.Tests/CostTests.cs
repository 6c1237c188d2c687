using System.Globalization;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Judge.Tests;

/// <summary>
/// Spend per step and model, over every row the models answered (rows dropped later included), in the manifest and
/// the dataset card, adding up exactly from the usage the served models reported (counted by the server itself).
/// </summary>
public class CostTests
{
    [Fact]
    public async Task Spend_per_step_and_model_adds_up_exactly_from_the_servers_usage_counts()
    {
        // Refusals and dropped connections: only the answers delivered whole are paid for, on both sides.
        await using var server = ServedPipeline.Server(failFirst: 3, dropEvery: 9);
        var folder = Path.Combine(Path.GetTempPath(), "distil-cost-" + Guid.NewGuid().ToString("N")[..8]);
        var definition = PipelineDefinition.Load(ServedPipeline.Write(folder, server, rows: 24), BuiltInSteps.CreateRegistry());
        var output = Path.Combine(folder, "out");

        var manifest = await new PipelineRunner().RunAsync(
            definition,
            new RunOptions { RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = output, Models = new ModelCatalog() },
            default);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        decimal expectedTotal = 0;
        foreach (var (step, model) in new[] { ("gen_a", "gen-a"), ("gen_b", "gen-b"), ("judge", "judge") })
        {
            var metrics = manifest.Steps.Single(s => s.Name == step);
            var (input, outputTokens) = server.UsageByModel[model + "-served"];
            var (inPrice, outPrice) = ServedPipeline.Prices[model];
            var expected = ((input * inPrice) + (outputTokens * outPrice)) / 1_000_000m;
            Assert.Equal(model, metrics.Model);
            Assert.Equal((input, outputTokens), (metrics.InputTokens, metrics.OutputTokens));
            Assert.Equal(expected, metrics.CostUsd);
            expectedTotal += expected;
        }

        Assert.Equal(expectedTotal, manifest.CostUsd);
        Assert.True(server.Requests > 3 * 24, "no request was refused or dropped, so nothing was retried");

        // Ties were dropped after the judge had been paid for them: the spend still covers all 24 rows.
        var pairs = manifest.Steps.Single(s => s.Name == "pairs");
        Assert.True(pairs.Dropped.Values.Sum() > 0, "no pair was dropped; the test needs some");
        Assert.Equal(24, manifest.Steps.Single(s => s.Name == "judge").RowsOut);
        Assert.Equal(0, manifest.Steps.Sum(s => s.Errors));

        var saved = RunManifest.Read(Path.Combine(manifest.RunDirectory, RunManifest.FileName));
        Assert.Equal(expectedTotal, saved.CostUsd);
        Assert.Equal(manifest.Steps.Select(s => s.CostUsd), saved.Steps.Select(s => s.CostUsd));

        var card = await File.ReadAllTextAsync(Path.Combine(output, DatasetCardStep.FileName));
        Assert.Contains("## Cost", card, StringComparison.Ordinal);
        Assert.Contains($"| total | | | | {Usd(expectedTotal)} |", card, StringComparison.Ordinal);
        Assert.Contains($"Per kept pair: {Usd(expectedTotal / pairs.RowsOut)} USD.", card, StringComparison.Ordinal);
        Assert.Contains($"| judge | `judge` | {manifest.Steps.Single(s => s.Name == "judge").InputTokens:N0} |", card, StringComparison.Ordinal);
        Directory.Delete(folder, recursive: true);
    }

    [Theory]
    [InlineData("\"price\": 3", "$.models.m.price")]
    [InlineData("\"price\": {\"input_per_mtok\": 1}", "$.models.m.price")]
    [InlineData("\"price\": {\"input_per_mtok\": -1, \"output_per_mtok\": 1}", "$.models.m.price.input_per_mtok")]
    [InlineData("\"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1, \"batch_discount\": 2}", "$.models.m.price.batch_discount")]
    [InlineData("\"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1, \"per_call\": 2}", "$.models.m.price.per_call")]
    public void A_bad_price_is_reported_with_its_line_and_path(string price, string path)
    {
        var json = $$"""
            {
              "name": "p",
              "models": { "m": { "type": "openai", "endpoint": "http://127.0.0.1:9/v1", "model": "x",
                                 {{price}} } },
              "steps": [ { "name": "load", "type": "load_jsonl", "path": "in.jsonl" } ]
            }
            """;

        var error = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, "p.json", BuiltInSteps.CreateRegistry()));

        var problem = Assert.Single(error.Problems, p => p.JsonPath?.StartsWith("$.models", StringComparison.Ordinal) == true);
        Assert.Equal(path, problem.JsonPath);
        Assert.Equal(4, problem.Line);
    }

    private static string Usd(decimal usd) => usd.ToString("0.######", CultureInfo.InvariantCulture);
}

namespace Distil.Pipeline.Tests;

/// <summary>
/// pipelines/judges-example.json, as shipped, through the real CLI on its tiny local models: ultrafeedback,
/// rubric_judge, judge_agreement and pairwise_judge on the same rows, the pairs from the rubric judge's ratings, and
/// both agreement rates in the manifest and the card.
/// </summary>
public sealed class JudgesExamplePipelineTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Three_judges_rate_the_same_answers_and_the_card_reports_their_agreement()
    {
        var shipped = Path.Combine(TestRepository.Root, "pipelines");
        var pipeline = _ws.Write("pipelines/judges-example.json", File.ReadAllText(Path.Combine(shipped, "judges-example.json")));
        _ws.LinkPresetModels(pipeline);
        _ws.Write("pipelines/data/prompts-mini.jsonl", File.ReadAllText(Path.Combine(shipped, "data", "prompts-mini.jsonl")));

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", pipeline, "--limit", "4", "--runs", "runs", "--output", "out");

        Assert.True(code == 0, stdout + stderr);
        var manifest = RunManifest.Read(Directory.GetFiles(_ws.Runs, RunManifest.FileName, SearchOption.AllDirectories).Single());
        Assert.Equal(0, manifest.Steps.Sum(s => s.Errors));
        foreach (var judge in new[] { "uf", "grade", "agree", "pairwise" })
        {
            Assert.Equal(4, manifest.Steps.Single(s => s.Name == judge).RowsOut);
        }

        var pairwise = manifest.Steps.Single(s => s.Name == "pairwise").Tallies;
        Assert.Equal(4, pairwise["pairwise_judged"]);
        var consistent = pairwise.GetValueOrDefault("pairwise_consistent");
        var agree = manifest.Steps.Single(s => s.Name == "agree").Tallies;
        var comparable = agree.GetValueOrDefault("judge_agreement_rows");
        var same = agree.GetValueOrDefault("judge_agreement_same_best");
        Assert.InRange(same, 0, comparable);

        var card = File.ReadAllText(Path.Combine(_ws.Outputs, "README.md"));
        Assert.Contains($"| position-consistent verdicts (`pairwise`, both orders) | {consistent} / 4 (", card);
        Assert.Contains($"| judges name the same best response (`agree`) | {same} / {comparable}", card);
        var rows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "data.parquet"));
        Assert.Equal(manifest.Steps.Single(s => s.Name == "pairs").RowsOut, rows.Count);
        Assert.All(rows, r => Assert.True((long)r["chosen_rating"] > (long)r["rejected_rating"], "pairs come from the rubric judge's ratings"));
    }

    [Fact]
    public async Task The_step_catalogue_lists_the_judges()
    {
        var (code, stdout, _) = await DistilProcess.RunAsync(_ws.Root, "steps");
        Assert.Equal(0, code);
        Assert.Contains("rubric_judge", stdout);
        Assert.Contains("pairwise_judge", stdout);
        Assert.Contains("judge_agreement", stdout);
        Assert.Contains("reward_model", stdout);
    }
}

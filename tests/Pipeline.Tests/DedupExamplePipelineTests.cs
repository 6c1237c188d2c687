using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>pipelines/dedup-example.json, as shipped, run by the real CLI with no model: near-duplicates and contaminated prompts go, and the card says how many.</summary>
public sealed class DedupExamplePipelineTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task The_example_removes_near_duplicates_and_eval_overlap_and_the_card_counts_them()
    {
        var pipelines = Path.Combine(TestRepository.Root, "pipelines");
        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", Path.Combine(pipelines, "dedup-example.json"), "--runs", "runs", "--output", "out");
        Assert.True(code == 0, stderr);

        var prompts = File.ReadAllLines(Path.Combine(pipelines, "data", "prompts-near-duplicates.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("instruction").GetString()!).ToList();
        var evals = File.ReadAllLines(Path.Combine(pipelines, "data", "eval-questions.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("question").GetString()!).ToList();
        var kept = (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Root, "out", "prompts.parquet"))).Select(r => (string)r["instruction"]).ToList();

        // Independent checks: no kept pair is as close as the step's threshold, no kept prompt shares a 13-gram with the eval set.
        var sets = kept.Select(k => NearDuplicateTests.Shingles(k, "char", 5)).ToList();
        for (var i = 0; i < sets.Count; i++)
        {
            for (var j = i + 1; j < sets.Count; j++)
            {
                Assert.True(NearDuplicateTests.Jaccard(sets[i], sets[j]) < 0.7, $"kept near-duplicates: {kept[i]} | {kept[j]}");
            }
        }

        Assert.DoesNotContain(kept, k => DecontaminationTests.Contaminated(k, evals, 13));
        var contaminated = prompts.Count(p => DecontaminationTests.Contaminated(p, evals, 13));
        Assert.True(contaminated > 0);

        var near = prompts.Count - contaminated - kept.Count;
        Assert.True(near > 0);
        Assert.Contains($"dropped near_duplicate {near}", stdout);
        Assert.Contains($"dropped contaminated {contaminated}", stdout);
        var card = File.ReadAllText(Path.Combine(_ws.Root, "out", "README.md"));
        Assert.Contains($"| near-duplicates removed | {near} |", card);
        Assert.Contains($"| contaminated rows removed (eval n-gram overlap) | {contaminated} |", card);
    }
}

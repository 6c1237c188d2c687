using System.Collections;
using Distil.Engine.Reward;

namespace Distil.Pipeline.Tests;

/// <summary>
/// pipelines/reward-example.json, as shipped, through the real CLI: the tiny-reward preset built from its recipe,
/// rewards that are the reward model's own scores, pairs chosen by reward, and the reward model's agreement with an
/// UltraFeedback judge in the manifest and the card.
/// </summary>
public sealed class RewardExamplePipelineTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task A_reward_model_scores_the_answers_and_its_scores_choose_the_pairs()
    {
        var shipped = Path.Combine(TestRepository.Root, "pipelines");
        var pipeline = _ws.Write("pipelines/reward-example.json", File.ReadAllText(Path.Combine(shipped, "reward-example.json")));
        _ws.LinkPresetModels(pipeline);
        _ws.Write("pipelines/data/prompts-mini.jsonl", File.ReadAllText(Path.Combine(shipped, "data", "prompts-mini.jsonl")));

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", pipeline, "--limit", "3", "--runs", "runs", "--output", "out");

        Assert.True(code == 0, stdout + stderr);
        var manifest = RunManifest.Read(Directory.GetFiles(_ws.Runs, RunManifest.FileName, SearchOption.AllDirectories).Single());
        Assert.Equal(0, manifest.Steps.Sum(s => s.Errors));
        Assert.Equal(3, manifest.Steps.Single(s => s.Name == "score").RowsOut);
        Assert.Contains(manifest.Models, m => m.Name == "reward" && m.Description.Contains("reward model", StringComparison.Ordinal));
        var agree = manifest.Steps.Single(s => s.Name == "agree").Tallies;
        var comparable = agree.GetValueOrDefault("judge_agreement_rows");
        var same = agree.GetValueOrDefault("judge_agreement_same_best");
        Assert.InRange(same, 0, comparable);
        var card = File.ReadAllText(Path.Combine(_ws.Outputs, "README.md"));
        Assert.Contains($"| judges name the same best response (`agree`) | {same} / {comparable}", card);

        var rows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "data.parquet"));
        Assert.Equal(manifest.Steps.Single(s => s.Name == "pairs").RowsOut, rows.Count);
        Assert.NotEmpty(rows);
        using var model = RewardModel.Open(Path.Combine(_ws.Root, "models", "tiny-reward"), new RewardModelOptions { Threads = 1 });
        foreach (var row in rows)
        {
            var generations = ((IEnumerable)row["generations"]).Cast<object>().Select(g => g.ToString()!).ToList(); // strings read back as ReadOnlyMemory<char>
            var rewards = ((IEnumerable)row["rewards"]).Cast<object>().Select(Convert.ToDouble).ToList();
            var expected = model.Score(generations.Select(g => (row["instruction"].ToString()!, g)).ToList(), batchSize: 1);
            for (var i = 0; i < generations.Count; i++)
            {
                Assert.Equal(expected[i]!.Value, rewards[i], 4);
            }

            Assert.Equal(rewards.Max(), Convert.ToDouble(row["chosen_rating"], System.Globalization.CultureInfo.InvariantCulture), 6);
            Assert.Equal(rewards.Min(), Convert.ToDouble(row["rejected_rating"], System.Globalization.CultureInfo.InvariantCulture), 6);
        }
    }
}

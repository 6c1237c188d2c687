using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distil.Engine;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

[Collection(TinyModelCollection.Name)]
public class PairwiseJudgeStepTests(TinyModels models)
{
    private static IBatchStep Make(string extra = "") =>
        (IBatchStep)Steps.Create($$"""{"name": "pair", "type": "pairwise_judge", "model": "j"{{extra}}}""");

    private static Row Pair(long id, string instruction, string first, string second) =>
        Steps.Row(id, ("instruction", instruction), ("generations", Steps.List(first, second)));

    private static (string A, string B) Shown(string prompt)
    {
        var m = Regex.Match(prompt, @"## Response A\n(.*)\n\n## Response B\n(.*)\n");
        return (m.Groups[1].Value, m.Groups[2].Value);
    }

    /// <summary>Prefers the response with the larger digit wherever it is shown, unless the instruction says "biased":
    /// then it always picks the first shown. Equal digits are a tie.</summary>
    private static string Judge(string prompt)
    {
        if (prompt.Contains("biased", StringComparison.Ordinal))
        {
            return "{\"rationale\": \"first is best\", \"winner\": \"A\"}";
        }

        var (a, b) = Shown(prompt);
        var (da, db) = (a[^1], b[^1]);
        var winner = da == db ? "tie" : da > db ? "A" : "B";
        return JsonSerializer.Serialize(new { rationale = $"{a} vs {b}", winner });
    }

    /// <summary>A winner either way, one the judge decides by position alone ("q biased"), and a tie.</summary>
    private static Row[] FourPairs() =>
    [
        Pair(0, "q fair", "answer 2", "answer 7"),
        Pair(1, "q fair", "answer 9", "answer 3"),
        Pair(2, "q biased", "answer 9", "answer 3"),
        Pair(3, "q fair", "answer 4", "answer 4"),
    ];

    [Fact]
    public async Task Both_orders_are_asked_and_only_consistent_verdicts_name_a_winner()
    {
        var client = new ScriptedChatClient((m, _) => Judge(m[^1].Text), "judge-model");
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = client });
        var rows = FourPairs();

        var output = await Make(", \"generation\": {\"seed\": 2}").ProcessAsync(rows, context, default);

        Assert.Empty(context.Errors);
        Assert.Equal([1L, 0L, null, null], output.Select(r => r["pairwise_winner"]));
        Assert.Equal([true, true, false, true], output.Select(r => r["pairwise_consistent"]));
        Assert.Equal(["answer 2 vs answer 7", "answer 7 vs answer 2"], (IReadOnlyList<object?>)output[0]["pairwise_rationales"]!);
        Assert.Equal("judge-model", output[0]["judge_model"]);
        Assert.Equal(4, context.Tallies[PairwiseJudgeStep.Judged]);
        Assert.Equal(3, context.Tallies[PairwiseJudgeStep.Consistent]);
        Assert.Equal(8, client.Requests.Count);
        // The two orders of a pair are asked concurrently, so they are found by what they show, not by arrival.
        var firstPair = client.Requests.Where(r => Shown(r.Messages[^1].Text) is ("answer 2", "answer 7") or ("answer 7", "answer 2"))
            .OrderBy(r => Shown(r.Messages[^1].Text).A, StringComparer.Ordinal).ToList();
        Assert.Equal([("answer 2", "answer 7"), ("answer 7", "answer 2")], firstPair.Select(r => Shown(r.Messages[^1].Text)));
        Assert.NotEqual(firstPair[0].Options!.Seed, firstPair[1].Options!.Seed);
        var schema = ((ChatResponseFormatJson)firstPair[0].Options!.ResponseFormat!).Schema!.Value.GetProperty("properties");
        Assert.Equal(["rationale", "winner"], schema.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["A", "B", "tie"], schema.GetProperty("winner").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Ratings_from_consistent_verdicts_feed_preference_pairs()
    {
        var client = new ScriptedChatClient((m, _) => Judge(m[^1].Text), "judge-model");
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = client });
        var rows = FourPairs();

        var judged = await Make(", \"ratings\": true").ProcessAsync(rows, context, default);
        Assert.Equal([Steps.List(0L, 1L), Steps.List(1L, 0L), Steps.List(null, null), Steps.List(0L, 0L)], judged.Select(r => (IReadOnlyList<object?>)r["ratings"]!));
        Assert.DoesNotContain("ratings", ((IStep)Make()).OutputColumns);

        var pairs = await ((IBatchStep)Steps.Create("""{"name": "pairs", "type": "preference_pairs", "format": "standard"}""")).ProcessAsync(judged, context, default);

        // Only the two position-consistent wins become pairs, each with the winner chosen; the position-biased
        // (inconsistent) row and the agreed tie are dropped.
        Assert.Equal([0L, 1L], pairs.Select(p => p.Id));
        Assert.Equal(["answer 7", "answer 9"], pairs.Select(p => p["chosen"]));
        Assert.Equal(["answer 2", "answer 3"], pairs.Select(p => p["rejected"]));
        Assert.Equal(1, context.Dropped[NoPairReason.MissingRatings]);
        Assert.Equal(1, context.Dropped[NoPairReason.Tie]);
        Assert.Equal("judge-model", pairs[0]["judge_model"]);
    }

    [Theory]
    [InlineData("Both are fine, but B cites a source.\n[[B]]", true, "B")]
    [InlineData("A is wrong about [[A]]-style markers; overall [[B]]", true, "B")]
    [InlineData("```json\n{\"rationale\": \"same\", \"winner\": \"tie\"}\n```", true, "Tie")]
    [InlineData("Reasoning here.\nWinner: Response A", true, "A")]
    [InlineData("They are equal. [[C]]", true, "Tie")]
    public void Served_answers_are_read_robustly(string answer, bool allowTies, string pick)
    {
        var verdict = PairwiseJudging.Parse(answer, allowTies);
        Assert.Null(verdict.Error);
        Assert.Equal(Enum.Parse<PairwisePick>(pick), verdict.Pick);
    }

    [Theory]
    [InlineData("I cannot decide.", "names no winner")]
    [InlineData("{\"rationale\": \"x\", \"winner\": \"both\"}", "not A, B or tie")]
    [InlineData("{\"rationale\": \"x\", \"winner\": \"tie\"}", "ties are not allowed")]
    public void Unusable_answers_are_errors(string answer, string message) =>
        Assert.Contains(message, PairwiseJudging.Parse(answer, allowTies: false).Error);

    [Fact]
    public async Task A_row_without_exactly_two_responses_or_with_an_unusable_answer_fails_alone()
    {
        var client = new ScriptedChatClient((m, _) => m[^1].Text.Contains("mute", StringComparison.Ordinal) ? "no idea" : Judge(m[^1].Text));
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = client });
        var three = Steps.Row(1, ("instruction", "q"), ("generations", Steps.List("answer 1", "answer 2", "answer 3")));

        var output = await Make(", \"structured_output\": false").ProcessAsync([Pair(0, "q", "answer 1", "answer 2"), three, Pair(2, "mute", "answer 1", "answer 2")], context, default);

        Assert.Equal([1L, 2L], context.Errors.Keys.Order());
        Assert.Contains("exactly 2", context.Errors[1]);
        Assert.Contains("order A=0: the judge's answer names no winner", context.Errors[2]);
        Assert.Equal(1L, output[0]["pairwise_winner"]);
        Assert.Null(client.Requests[0].Options!.ResponseFormat);
        Assert.Contains("[[A]]", client.Requests[0].Messages[0].Text);
        Assert.Equal(1, context.Tallies[PairwiseJudgeStep.Judged]);
    }

    [Fact]
    public async Task A_random_tiny_judge_always_gives_a_verdict_in_both_orders()
    {
        using var judge = models.Open(models.B);
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = judge });
        var rows = Enumerable.Range(0, 8).Select(i => Pair(i, $"Question {i}: name a colour.", $"red {i}", $"blue {i}")).ToArray();

        var output = await Make(", \"allow_ties\": false, \"rationale_max_length\": 16, \"generation\": {\"temperature\": 1.0, \"seed\": 3}").ProcessAsync(rows, context, default);

        Assert.Empty(context.Errors);
        Assert.Equal(8, context.Tallies[PairwiseJudgeStep.Judged]);
        Assert.Equal(output.Count(r => (bool)r["pairwise_consistent"]!), context.Tallies.GetValueOrDefault(PairwiseJudgeStep.Consistent));
        Assert.All(output, r =>
        {
            // Without ties a consistent verdict always names a response, an inconsistent one never does.
            Assert.Equal((bool)r["pairwise_consistent"]!, r["pairwise_winner"] is long);
            Assert.All((IReadOnlyList<object?>)r["pairwise_rationales"]!, t => Assert.InRange(((string)t!).Length, 1, 16));
        });
    }

    [Fact]
    public async Task The_agreement_rate_reaches_the_manifest_and_the_card_and_survives_the_step_cache()
    {
        await using var server = new LoopbackOpenAIServer { BaseLatency = TimeSpan.Zero, Answer = Judge };
        var folder = Path.Combine(Path.GetTempPath(), "distil-pairwise-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var lines = new StringBuilder();
        for (var i = 0; i < 10; i++)
        {
            var instruction = i < 7 ? $"fair question {i}" : $"biased question {i}";
            lines.Append(JsonSerializer.Serialize(new { instruction, generations = new[] { $"answer {i % 5}", $"answer {5 + (i % 4)}" } })).Append('\n');
        }

        File.WriteAllText(Path.Combine(folder, "pairs.jsonl"), lines.ToString());
        File.WriteAllText(Path.Combine(folder, "pipe.json"), $$"""
            {
              "name": "pairwise",
              "models": { "judge": { "type": "openai", "endpoint": "{{server.Endpoint}}", "model": "judge-served" } },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "pairs.jsonl" },
                { "name": "pair", "type": "pairwise_judge", "after": ["load"], "model": "judge", "input_batch_size": 4 },
                { "name": "write", "type": "write_parquet", "after": ["pair"], "path": "data.parquet", "columns": ["instruction", "pairwise_winner", "pairwise_consistent"] },
                { "name": "card", "type": "dataset_card", "after": ["pair"], "data_files": ["data.parquet"] }
              ]
            }
            """);
        var definition = PipelineDefinition.Load(Path.Combine(folder, "pipe.json"), BuiltInSteps.CreateRegistry());

        foreach (var attempt in new[] { "fresh", "from the cache" })
        {
            var output = Path.Combine(folder, "out-" + attempt.Replace(' ', '-'));
            var manifest = await new PipelineRunner().RunAsync(definition, new RunOptions { RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = output, Models = new ModelCatalog() }, default);

            Assert.Equal(RunStatus.Succeeded, manifest.Status);
            var pair = manifest.Steps.Single(s => s.Name == "pair");
            Assert.Equal(10, pair.Tallies[PairwiseJudgeStep.Judged]);
            Assert.Equal(7, pair.Tallies[PairwiseJudgeStep.Consistent]);
            var saved = RunManifest.Read(Path.Combine(manifest.RunDirectory, RunManifest.FileName));
            Assert.Equal(7, saved.Steps.Single(s => s.Name == "pair").Tallies[PairwiseJudgeStep.Consistent]);
            var card = await File.ReadAllTextAsync(Path.Combine(output, DatasetCardStep.FileName));
            Assert.Contains("| position-consistent verdicts (`pair`, both orders) | 7 / 10 (70.0%) |", card, StringComparison.Ordinal);
        }

        Assert.Equal(20, server.Requests); // the second run judged nothing again
        Directory.Delete(folder, recursive: true);
    }
}

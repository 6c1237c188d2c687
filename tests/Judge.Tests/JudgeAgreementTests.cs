using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distil.Engine;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Judge.Tests;

public class JudgeAgreementTests
{
    [Fact]
    public void The_best_is_the_single_highest_rating_and_a_tie_at_the_top_names_none()
    {
        Assert.Equal(2, JudgeAgreement.Best([1, 3, 5, 4]));
        Assert.Null(JudgeAgreement.Best([5, 2, 5]));
        Assert.Equal(0, JudgeAgreement.Best([5, 2, 2]));
        Assert.Null(JudgeAgreement.Best([4, null]));
        Assert.Null(JudgeAgreement.Best([]));
    }

    [Fact]
    public void Judges_agree_when_all_name_the_same_best_and_are_incomparable_otherwise()
    {
        Assert.True(JudgeAgreement.SameBest([[1, 5], [2, 9]]));
        Assert.False(JudgeAgreement.SameBest([[1, 5], [9, 2]]));
        Assert.False(JudgeAgreement.SameBest([[1, 5, 2], [1, 5, 2], [1, 2, 5]]));
        Assert.Null(JudgeAgreement.SameBest([[1, 5], [3, 3]]));
        Assert.Null(JudgeAgreement.SameBest([[1, 5], [1, 5, 2]]));
    }

    [Theory]
    [InlineData("", "needs 'ratings'")]
    [InlineData(", \"ratings\": [\"a\"]", "at least two different")]
    [InlineData(", \"ratings\": [\"a\", \"a\"]", "at least two different")]
    public void Bad_parameters_are_located_errors(string extra, string message)
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Steps.Create($$"""{"name": "agree", "type": "judge_agreement"{{extra}}}"""));
        Assert.Equal("$.steps[0].ratings", e.JsonPath);
        Assert.Contains(message, e.Message);
    }

    /// <summary>
    /// Served judges: an UltraFeedback judge and a rubric judge both rate each response by the digit it ends with,
    /// except that the rubric judge turns the scale round for "contrarian" questions. Ultrafeedback's columns are
    /// renamed with output_mappings; judge_agreement compares the two and the card states the rate.
    /// </summary>
    [Fact]
    public async Task Ultrafeedback_and_rubric_judge_on_the_same_rows_agree_where_they_should()
    {
        await using var server = new LoopbackOpenAIServer { BaseLatency = TimeSpan.Zero, Answer = Answer };
        var folder = Path.Combine(Path.GetTempPath(), "distil-agreement-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var lines = new StringBuilder();
        for (var i = 0; i < 8; i++)
        {
            var instruction = i % 4 == 3 ? $"contrarian question {i}" : $"plain question {i}";
            lines.Append(JsonSerializer.Serialize(new { instruction, generations = new[] { $"answer {1 + (i % 3)}", "answer 4", $"answer {(i % 2 == 0 ? 5 : 3)}" } })).Append('\n');
        }

        File.WriteAllText(Path.Combine(folder, "rows.jsonl"), lines.ToString());
        File.WriteAllText(Path.Combine(folder, "pipe.json"), $$"""
            {
              "name": "two-judges",
              "models": { "judge": { "type": "openai", "endpoint": "{{server.Endpoint}}", "model": "judge-served" } },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "rows.jsonl" },
                { "name": "uf", "type": "ultrafeedback", "after": ["load"], "model": "judge", "shuffle": false,
                  "output_mappings": { "ratings": "uf_ratings", "rationales": "uf_rationales", "judge_model": "uf_judge" } },
                { "name": "grade", "type": "rubric_judge", "after": ["uf"], "model": "judge",
                  "rubric": { "criteria": "quality", "scores": { "1": "bad", "2": "weak", "3": "fair", "4": "good", "5": "great" } } },
                { "name": "agree", "type": "judge_agreement", "after": ["grade"], "ratings": ["uf_ratings", "ratings"] },
                { "name": "write", "type": "write_parquet", "after": ["agree"], "path": "data.parquet", "columns": ["instruction", "uf_ratings", "ratings", "judges_agree"] },
                { "name": "card", "type": "dataset_card", "after": ["agree"], "data_files": ["data.parquet"] }
              ]
            }
            """);
        var definition = PipelineDefinition.Load(Path.Combine(folder, "pipe.json"), BuiltInSteps.CreateRegistry());
        var output = Path.Combine(folder, "out");

        var manifest = await new PipelineRunner().RunAsync(definition, new RunOptions { RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = output, Models = new ModelCatalog() }, default);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.Equal(0, manifest.Steps.Sum(s => s.Errors));
        // Rows 3 and 7 are contrarian: the rubric judge's best is the lowest digit there. Every row has distinct digits.
        var agree = manifest.Steps.Single(s => s.Name == "agree");
        Assert.Equal(8, agree.Tallies[JudgeAgreementStep.Comparable]);
        Assert.Equal(6, agree.Tallies[JudgeAgreementStep.SameBest]);
        var card = await File.ReadAllTextAsync(Path.Combine(output, DatasetCardStep.FileName));
        Assert.Contains("| judges name the same best response (`agree`) | 6 / 8 (75.0%) |", card, StringComparison.Ordinal);
        Directory.Delete(folder, recursive: true);
    }

    private static string? Answer(string prompt)
    {
        if (prompt.Contains("## Responses", StringComparison.Ordinal))
        {
            var digits = Regex.Matches(prompt, @"### Text \d+\nanswer (\d)").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            return JsonSerializer.Serialize(new { ratings = digits, rationales = digits.Select(d => $"digit {d}") });
        }

        var digit = int.Parse(Regex.Match(prompt, @"## Response to evaluate\nanswer (\d)").Groups[1].Value, CultureInfo.InvariantCulture);
        var score = prompt.Contains("contrarian", StringComparison.Ordinal) ? 6 - digit : digit;
        return $"Feedback: judged by the digit. [RESULT] {score}";
    }
}

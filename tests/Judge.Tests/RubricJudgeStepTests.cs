using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distil.Engine;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

[Collection(TinyModelCollection.Name)]
public class RubricJudgeStepTests(TinyModels models)
{
    private const string Rubric = """
        "rubric": { "criteria": "Is the answer correct and complete?",
          "scores": { "1": "wrong", "2": "mostly wrong", "3": "partly right", "4": "right but incomplete", "5": "right and complete" } }
        """;

    private static IBatchStep Make(string extra) =>
        (IBatchStep)Steps.Create($$"""{"name": "grade", "type": "rubric_judge", "model": "j", {{extra}}}""");

    private static Row Rated(long id, params string[] responses) =>
        Steps.Row(id, ("instruction", $"question {id}"), ("generations", responses.Cast<object?>().ToList()), ("gold", $"gold {id}"));

    /// <summary>A judge that gives each response the digit it contains, after some feedback.</summary>
    private static string GradeByContent(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        var digit = Regex.Match(messages[^1].Text, @"## Response to evaluate\nanswer (\d)").Groups[1].Value;
        return JsonSerializer.Serialize(new { feedback = $"reads like a {digit}", score = int.Parse(digit, CultureInfo.InvariantCulture) });
    }

    [Fact]
    public async Task Each_response_is_graded_alone_with_the_rubric_and_reference()
    {
        var client = new ScriptedChatClient(GradeByContent, "judge-model");
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = client });
        var step = Make(Rubric + """, "reference_column": "gold", "generation": {"seed": 4}""");

        var output = await step.ProcessAsync([Rated(0, "answer 4", "answer 2", "answer 5"), Rated(1, "answer 1", "answer 3")], context, default);

        Assert.Empty(context.Errors);
        Assert.Equal([4L, 2L, 5L], (IReadOnlyList<object?>)output[0]["ratings"]!);
        Assert.Equal(["reads like a 4", "reads like a 2", "reads like a 5"], (IReadOnlyList<object?>)output[0]["rationales"]!);
        Assert.Equal([1L, 3L], (IReadOnlyList<object?>)output[1]["ratings"]!);
        Assert.Equal("judge-model", output[1]["judge_model"]);
        Assert.Equal(5, client.Requests.Count);
        var system = client.Requests[0].Messages[0].Text;
        Assert.Contains("Is the answer correct and complete?", system);
        Assert.Contains("Score 3: partly right", system);
        Assert.All(client.Requests, r => Assert.Equal(system, r.Messages[0].Text));
        var rowZero = client.RequestsShowing("question 0");
        var rowOne = client.RequestsShowing("question 1");
        Assert.Equal((3, 2), (rowZero.Count, rowOne.Count));
        Assert.All(rowOne, r => Assert.Contains("## Reference answer (would earn the highest score)\ngold 1", r.Messages[^1].Text));
        var schema = ((ChatResponseFormatJson)client.Requests[0].Options!.ResponseFormat!).Schema!.Value.GetProperty("properties");
        Assert.Equal(["feedback", "score"], schema.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, schema.GetProperty("score").GetProperty("minimum").GetInt32());
        Assert.Equal(5, schema.GetProperty("score").GetProperty("maximum").GetInt32());
        // Each response of a row has its own seed.
        Assert.Equal(3, rowZero.Select(r => r.Options!.Seed).Distinct().Count());
    }

    [Fact]
    public async Task Unusable_grades_mark_only_their_row()
    {
        var answers = new Dictionary<string, string>
        {
            ["question 0"] = "Feedback: solid, but terse. [RESULT] 4",
            ["question 1"] = "```json\n{\"feedback\": \"too high\", \"score\": 7}\n```",
            ["question 2"] = "I think it is fine.",
            ["question 3"] = "The answer is right.\nScore: 2",
            ["question 4"] = "{\"feedback\": \"half\", \"score\": 3.5}",
        };
        var client = new ScriptedChatClient((m, _) => answers[Regex.Match(m[^1].Text, @"question \d").Value]);
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = client });

        var output = await Make(Rubric + ", \"structured_output\": false").ProcessAsync(Enumerable.Range(0, 5).Select(i => Rated(i, "x")).ToArray(), context, default);

        Assert.Null(client.Requests[0].Options!.ResponseFormat);
        Assert.Contains("[RESULT]", client.Requests[0].Messages[0].Text);
        Assert.Equal([1L, 2L, 4L], context.Errors.Keys.Order());
        Assert.Contains("outside 1..5", context.Errors[1]);
        Assert.Contains("neither a JSON object", context.Errors[2]);
        Assert.Contains("not a whole number", context.Errors[4]);
        Assert.Equal([4L], (IReadOnlyList<object?>)output[0]["ratings"]!);
        Assert.Equal(["solid, but terse."], (IReadOnlyList<object?>)output[0]["rationales"]!);
        Assert.Equal([2L], (IReadOnlyList<object?>)output[3]["ratings"]!);
        Assert.All(output.Where(r => r.HasError), r => Assert.Null(r["ratings"]));
    }

    [Theory]
    [InlineData("", "$.steps[0].rubric", "needs 'rubric'")]
    [InlineData("\"rubric\": {\"scores\": {\"1\": \"a\", \"2\": \"b\"}}", "$.steps[0].rubric.criteria", "non-empty")]
    [InlineData("\"rubric\": {\"criteria\": \"c\", \"scores\": {\"1\": \"a\"}}", "$.steps[0].rubric.scores", "at least two")]
    [InlineData("\"rubric\": {\"criteria\": \"c\", \"scores\": {\"1\": \"a\", \"3\": \"b\"}}", "$.steps[0].rubric.scores", "missing 2")]
    [InlineData("\"rubric\": {\"criteria\": \"c\", \"scores\": {\"1\": \"a\", \"two\": \"b\"}}", "$.steps[0].rubric.scores.two", "not a whole number")]
    [InlineData("\"rubric\": {\"criteria\": \"c\", \"scores\": {\"1\": \"a\", \"2\": \"\"}}", "$.steps[0].rubric.scores.2", "describe")]
    [InlineData("\"rubric\": {\"criteria\": \"c\", \"scale\": 5}", "$.steps[0].rubric.scale", "no key 'scale'")]
    public void A_bad_rubric_is_a_located_error(string rubric, string path, string message)
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Steps.Create("{\"name\": \"grade\", \"type\": \"rubric_judge\", \"model\": \"j\"" + (rubric.Length > 0 ? ", " + rubric : "") + "}"));
        Assert.Equal(path, e.JsonPath);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public async Task A_random_tiny_judge_grades_on_a_ten_point_scale_and_always_parses()
    {
        using var judge = models.Open(models.A);
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = judge });
        var scores = JsonSerializer.Serialize(Enumerable.Range(1, 10).ToDictionary(s => s.ToString(CultureInfo.InvariantCulture), s => $"level {s}"));
        var step = Make($$"""
            "rubric": {"criteria": "How clear is it?", "scores": {{scores}} }, "reference_column": "gold",
            "feedback_max_length": 24, "generation": {"temperature": 1.0, "seed": 9}
            """);
        var rows = Enumerable.Range(0, 6).Select(i => Rated(i, $"first answer {i}", $"second answer {i}")).ToArray();

        var output = await step.ProcessAsync(rows, context, default);

        Assert.Empty(context.Errors);
        Assert.All(output, row =>
        {
            Assert.All((IReadOnlyList<object?>)row["ratings"]!, r => Assert.InRange((long)r!, 1, 10));
            Assert.All((IReadOnlyList<object?>)row["rationales"]!, f => Assert.InRange(((string)f!).Length, 1, 24));
            Assert.Equal("tiny-a", row["judge_model"]);
        });
        Assert.True(context.OutputTokens > 0);
    }

    [Fact]
    public async Task A_served_judge_answering_in_prose_is_parsed()
    {
        await using var server = new LoopbackOpenAIServer
        {
            BaseLatency = TimeSpan.Zero,
            Answer = prompt => Regex.Match(prompt, @"answer (\d)") is { Success: true } m
                ? $"Here is my assessment.\n```json\n{{\"feedback\": \"graded {m.Groups[1].Value}\", \"score\": {m.Groups[1].Value}}}\n```"
                : "Feedback: no digit. [RESULT] 1",
        };
        var json = $$"""{"type": "openai", "endpoint": "{{server.Endpoint}}", "model": "served-judge"}""";
        using var client = await new ModelCatalog().OpenAsync("j", new StepParameters(JsonDocument.Parse(json).RootElement.Clone(), "$.models.j", "pipe.json", _ => 1), default);
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = client });

        var output = await Make(Rubric).ProcessAsync([Rated(0, "answer 3", "no number"), Rated(1, "answer 5")], context, default);

        Assert.Empty(context.Errors);
        Assert.Equal([3L, 1L], (IReadOnlyList<object?>)output[0]["ratings"]!);
        Assert.Equal(["graded 3", "no digit."], (IReadOnlyList<object?>)output[0]["rationales"]!);
        Assert.Equal([5L], (IReadOnlyList<object?>)output[1]["ratings"]!);
        Assert.Equal(3, server.Requests);
    }
}

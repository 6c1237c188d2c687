using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

public class UltraFeedbackStepTests
{
    private static (IBatchStep Step, ScriptedChatClient Client, RecordingStepContext Context) Make(string extra, Func<IReadOnlyList<ChatMessage>, ChatOptions?, string> answer)
    {
        var client = new ScriptedChatClient(answer, "judge-model");
        var step = (IBatchStep)Steps.Create($"{{\"name\": \"judge\", \"type\": \"ultrafeedback\", \"model\": \"j\"{extra}}}");
        return (step, client, new RecordingStepContext(new Dictionary<string, IChatClient> { ["j"] = client }));
    }

    private static Row Rated(long id, params string[] responses) =>
        Steps.Row(id, ("instruction", $"question {id}"), ("generations", responses.Cast<object?>().ToList()));

    /// <summary>A judge that rates each response by the digit it contains, wherever it is shown.</summary>
    private static string RateByContent(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        var shown = Regex.Matches(messages[^1].Text, @"### Text \d+\nanswer (\d)").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        return JsonSerializer.Serialize(new { ratings = shown, rationales = shown.Select(s => $"looks like {s}") });
    }

    [Fact]
    public async Task Shuffled_responses_get_their_own_ratings_back()
    {
        var (step, client, context) = Make("", RateByContent);
        var rows = Enumerable.Range(0, 40).Select(i => Rated(i, "answer 1", "answer 2", "answer 3", "answer 4")).ToArray();

        var output = await step.ProcessAsync(rows, context, default);

        Assert.Empty(context.Errors);
        Assert.All(output, r => Assert.Equal([1L, 2L, 3L, 4L], (IReadOnlyList<object?>)r["ratings"]!));
        Assert.All(output, r => Assert.Equal(["looks like 1", "looks like 2", "looks like 3", "looks like 4"], (IReadOnlyList<object?>)r["rationales"]!));
        Assert.All(output, r => Assert.Equal("judge-model", r["judge_model"]));
        // The judge really saw different orders, otherwise the mapping above proves nothing.
        var firstShown = client.Requests.Select(r => Regex.Match(r.Messages[^1].Text, @"### Text 1\nanswer (\d)").Groups[1].Value).Distinct().Count();
        Assert.True(firstShown >= 3, $"only {firstShown} distinct first positions");
    }

    [Fact]
    public async Task Without_shuffle_the_responses_keep_their_order()
    {
        var (step, client, context) = Make(", \"shuffle\": false", RateByContent);
        await step.ProcessAsync(Enumerable.Range(0, 10).Select(i => Rated(i, "answer 1", "answer 2")).ToArray(), context, default);

        Assert.All(client.Requests, r => Assert.Matches(@"### Text 1\nanswer 1\n\n### Text 2\nanswer 2", r.Messages[^1].Text));
    }

    [Fact]
    public async Task Asks_for_a_json_schema_with_exactly_n_ratings_and_shares_the_system_prompt()
    {
        var (step, client, context) = Make(", \"rationale_max_length\": 40", RateByContent);
        await step.ProcessAsync([Rated(0, "answer 1", "answer 2", "answer 3"), Rated(1, "answer 5", "answer 4")], context, default);

        var first = Assert.Single(client.RequestsShowing("question 0"));
        var format = Assert.IsType<ChatResponseFormatJson>(first.Options!.ResponseFormat);
        var schema = format.Schema!.Value;
        var ratings = schema.GetProperty("properties").GetProperty("ratings");
        Assert.Equal(3, ratings.GetProperty("minItems").GetInt32());
        Assert.Equal(3, ratings.GetProperty("maxItems").GetInt32());
        Assert.Equal(1, ratings.GetProperty("items").GetProperty("minimum").GetInt32());
        Assert.Equal(5, ratings.GetProperty("items").GetProperty("maximum").GetInt32());
        Assert.Equal(40, schema.GetProperty("properties").GetProperty("rationales").GetProperty("items").GetProperty("maxLength").GetInt32());
        var secondRequest = Assert.Single(client.RequestsShowing("question 1"));
        var second = ((ChatResponseFormatJson)secondRequest.Options!.ResponseFormat!).Schema!.Value;
        Assert.Equal(2, second.GetProperty("properties").GetProperty("ratings").GetProperty("maxItems").GetInt32());
        Assert.Equal(first.Messages[0].Text, secondRequest.Messages[0].Text);
        Assert.Equal(ChatRole.System, first.Messages[0].Role);
    }

    [Fact]
    public async Task Malformed_answers_mark_their_row_and_never_shift_ratings()
    {
        var answers = new Dictionary<string, string>
        {
            ["question 0"] = "{\"ratings\": [5, 1], \"rationales\": [\"a\", \"b\"]}",
            ["question 1"] = "{\"ratings\": [5], \"rationales\": [\"a\"]}",
            ["question 2"] = "{\"ratings\": [5, 9], \"rationales\": [\"a\", \"b\"]}",
            ["question 3"] = "I liked both of them.",
            ["question 4"] = "#### Output for Text 1\nRating: 2\nRationale: meh\n#### Output for Text 2\nRating: 4\nRationale: ok",
        };
        var (step, _, context) = Make(", \"shuffle\": false", (m, _) => answers[Regex.Match(m[^1].Text, "question \\d").Value]);

        var output = await step.ProcessAsync(Enumerable.Range(0, 5).Select(i => Rated(i, "x", "y")).ToArray(), context, default);

        Assert.Equal(5, output.Count);
        Assert.Equal([1L, 2L, 3L], context.Errors.Keys.Order());
        Assert.Contains("expected 2 ratings, the judge gave 1", context.Errors[1]);
        Assert.Contains("outside 1..5", context.Errors[2]);
        Assert.Contains("neither a JSON object", context.Errors[3]);
        Assert.All(output.Where(r => r.HasError), r => Assert.Null(r["ratings"]));
        Assert.Equal([5L, 1L], (IReadOnlyList<object?>)output[0]["ratings"]!);
        Assert.Equal([2L, 4L], (IReadOnlyList<object?>)output[4]["ratings"]!);
    }

    [Fact]
    public async Task Rows_with_a_missing_response_are_errors_before_any_call()
    {
        var (step, client, context) = Make("", RateByContent);
        await step.ProcessAsync([Steps.Row(0, ("instruction", "q"), ("generations", Steps.List("answer 1", null)))], context, default);

        Assert.Empty(client.Requests);
        Assert.Contains("missing", context.Errors[0]);
    }

    [Fact]
    public async Task Helpfulness_adds_types_mapped_to_the_original_order()
    {
        static string Answer(IReadOnlyList<ChatMessage> m, ChatOptions? o)
        {
            var shown = Regex.Matches(m[^1].Text, @"### Text \d+\nanswer (\d)").Select(x => int.Parse(x.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            return JsonSerializer.Serialize(new { ratings = shown, rationales = shown.Select(s => "r"), types = shown.Select(s => s == 1 ? new[] { 1, 3 } : Array.Empty<int>()) });
        }

        var (step, _, context) = Make(", \"aspect\": \"helpfulness\"", Answer);
        Assert.Contains("types", step.OutputColumns);
        var output = await step.ProcessAsync(Enumerable.Range(0, 10).Select(i => Rated(i, "answer 2", "answer 1")).ToArray(), context, default);

        Assert.All(output, r =>
        {
            var types = (IReadOnlyList<object?>)r["types"]!;
            Assert.Empty((IReadOnlyList<object?>)types[0]!);
            Assert.Equal([1L, 3L], (IReadOnlyList<object?>)types[1]!);
        });
    }

    [Fact]
    public async Task Free_text_mode_sends_no_schema_and_parses_sections()
    {
        var (step, client, context) = Make(", \"structured_output\": false, \"shuffle\": false",
            (_, _) => "#### Output for Text 1\nRating: 3\nRationale: fine\n\n#### Output for Text 2\nRating: 5\nRationale: great");
        var output = await step.ProcessAsync([Rated(0, "a", "b")], context, default);

        Assert.Null(client.Requests[0].Options!.ResponseFormat);
        Assert.Equal([3L, 5L], (IReadOnlyList<object?>)output[0]["ratings"]!);
    }

    [Fact]
    public void An_unknown_aspect_is_a_located_error()
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Make(", \"aspect\": \"kindness\"", RateByContent));
        Assert.Equal("$.steps[0].aspect", e.JsonPath);
        Assert.Contains("overall-rating", e.Message);
    }
}

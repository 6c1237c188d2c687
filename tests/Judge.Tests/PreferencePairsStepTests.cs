using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

public class PreferencePairsStepTests
{
    private static readonly RecordingStepContext NoModels = new(new Dictionary<string, IChatClient>());

    private static Row Rated(long id, object? ratings, params string[] responses) => Steps.Row(
        id,
        ("instruction", $"question {id}"),
        ("generations", responses.Cast<object?>().ToList()),
        ("model_names", responses.Select((_, i) => (object?)$"model-{i}").ToList()),
        ("ratings", ratings),
        ("judge_model", "judge"));

    [Fact]
    public async Task Writes_conversational_dpo_columns()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"system_prompt\": \"Be kind.\"}");
        var row = Assert.Single(await step.ProcessAsync([Rated(0, Steps.List(2L, 5L, 3L), "meh", "great", "ok")], NoModels, default));

        var prompt = (IReadOnlyList<object?>)row["prompt"]!;
        Assert.Equal("system", ((IReadOnlyDictionary<string, object?>)prompt[0]!)["role"]);
        Assert.Equal("question 0", ((IReadOnlyDictionary<string, object?>)prompt[1]!)["content"]);
        Assert.Equal("great", ((IReadOnlyDictionary<string, object?>)((IReadOnlyList<object?>)row["chosen"]!)[0]!)["content"]);
        Assert.Equal("meh", ((IReadOnlyDictionary<string, object?>)((IReadOnlyList<object?>)row["rejected"]!)[0]!)["content"]);
        Assert.Equal(DpoExample.PromptIdOf("question 0"), row["prompt_id"]);
        Assert.Equal((5L, 2L), ((long)row["chosen_rating"]!, (long)row["rejected_rating"]!));
        Assert.Equal(("model-1", "model-0"), ((string)row["chosen_model"]!, (string)row["rejected_model"]!));
        Assert.Equal([2L, 5L, 3L], (IReadOnlyList<object?>)row["ratings"]!);
        Assert.Equal("judge", row["judge_model"]);
    }

    private static IReadOnlyList<object?> Sent(params (string Role, string Content)[] messages) =>
        messages.Select(m => (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role, ["content"] = m.Content }).ToList();

    [Fact]
    public async Task Prompt_is_the_messages_the_generators_were_sent()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\"}");
        var sent = Sent(("system", "Answer in French."), ("user", "Topic: rain\nTask: question 0"));
        var input = Rated(0, Steps.List(2L, 5L), "meh", "great");
        input["generation_prompts"] = Steps.List(sent, sent);

        var row = Assert.Single(await step.ProcessAsync([input], NoModels, default));

        Assert.Equal(RowJson.ToJson(sent), RowJson.ToJson(row["prompt"]));
        Assert.Equal(DpoExample.PromptIdOf("Topic: rain\nTask: question 0"), row["prompt_id"]);
    }

    [Fact]
    public async Task Generators_that_saw_different_prompts_fail_clearly()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\"}");
        var input = Rated(4, Steps.List(2L, 5L), "meh", "great");
        input["generation_prompts"] = Steps.List(Sent(("user", "question 4")), Sent(("system", "Be brief."), ("user", "question 4")));

        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await step.ProcessAsync([input], NoModels, default));

        Assert.Contains("pairs: row 4: the generators were sent different prompts", error.Message);
        Assert.Contains("Be brief.", error.Message);
    }

    [Fact]
    public async Task Standard_format_refuses_a_system_prompt_instead_of_dropping_it()
    {
        var definitionError = Assert.Throws<PipelineDefinitionException>(() => Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"format\": \"standard\", \"system_prompt\": \"Be kind.\"}"));
        Assert.Contains("no place for a system prompt", definitionError.Message);

        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"format\": \"standard\"}");
        var input = Rated(1, Steps.List(2L, 5L), "meh", "great");
        input["prompt_messages"] = Sent(("system", "Be kind."), ("user", "question 1"));
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await step.ProcessAsync([input], NoModels, default));
        Assert.Contains("pairs: row 1: format 'standard'", error.Message);
        Assert.Contains("use format 'conversational'", error.Message);
    }

    [Fact]
    public async Task Standard_format_writes_strings()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"format\": \"standard\"}");
        var row = Assert.Single(await step.ProcessAsync([Rated(0, Steps.List(1L, 4L), "bad", "good")], NoModels, default));

        Assert.Equal(("question 0", "good", "bad"), ((string)row["prompt"]!, (string)row["chosen"]!, (string)row["rejected"]!));
    }

    [Fact]
    public async Task Ties_margins_and_missing_ratings_drop_rows_and_are_counted()
    {
        var context = new RecordingStepContext(new Dictionary<string, IChatClient>());
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"min_margin\": 2}");
        var output = await step.ProcessAsync(
            [
                Rated(0, Steps.List(5L, 1L), "a", "b"),
                Rated(1, Steps.List(3L, 3L), "a", "b"),
                Rated(2, Steps.List(4L, 3L), "a", "b"),
                Rated(3, null, "a", "b"),
                Rated(4, Steps.List(4L), "a", "b"),
                Rated(5, Steps.List(1L, 4L), "a", "b"),
            ],
            context,
            default);

        Assert.Equal([0L, 5L], output.Select(r => r.Id));
        Assert.Equal(1, context.Dropped[NoPairReason.Tie]);
        Assert.Equal(1, context.Dropped[NoPairReason.BelowMargin]);
        Assert.Equal(2, context.Dropped[NoPairReason.MissingRatings]);
        Assert.Empty(context.Errors);
    }

    [Fact]
    public async Task Several_aspects_are_averaged()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"ratings\": [\"helpfulness\", \"honesty\"]}");
        var input = Steps.Row(0, ("instruction", "q"), ("generations", Steps.List("a", "b")), ("helpfulness", Steps.List(5L, 2L)), ("honesty", Steps.List(2L, 4L)));
        Assert.Equal(["instruction", "generations", "helpfulness", "honesty"], step.InputColumns);

        var row = Assert.Single(await step.ProcessAsync([input], NoModels, default));

        Assert.Equal([3.5, 3.0], (IReadOnlyList<object?>)row["ratings"]!);
        Assert.Equal(3.5, row["chosen_rating"]);
    }

    [Theory]
    [InlineData("\"strategy\": \"best_vs_median\"", "$.steps[0].strategy")]
    [InlineData("\"min_margin\": -1", "$.steps[0].min_margin")]
    [InlineData("\"format\": \"chatml\"", "$.steps[0].format")]
    [InlineData("\"max_length_ratio\": 0.5", "$.steps[0].max_length_ratio")]
    [InlineData("\"max_length_ratio\": \"twice\"", "$.steps[0].max_length_ratio")]
    [InlineData("\"outputs\": [\"dpo\", \"orpo\"]", "$.steps[0].outputs")]
    [InlineData("\"outputs\": [\"dpo\", \"kto\"]", "$.steps[0].outputs")]
    [InlineData("\"outputs\": [\"sft\"]", "$.steps[0].outputs")]
    public void Bad_parameters_are_located_errors(string extra, string path)
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Steps.Create($"{{\"name\": \"pairs\", \"type\": \"preference_pairs\", {extra}}}"));
        Assert.Equal(path, e.JsonPath);
    }

    [Fact]
    public async Task Token_counts_of_the_pair_come_from_the_generators_and_are_never_guessed()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\"}");
        var counted = Rated(0, Steps.List(2L, 5L, 3L), "meh", "great", "ok");
        counted["generation_tokens"] = Steps.List(7L, 40L, 12L);
        var uncounted = Rated(1, Steps.List(2L, 5L), "meh", "great");
        var partly = Rated(2, Steps.List(5L, 1L), "great", "meh");
        partly["generation_tokens"] = Steps.List(9L, null);

        var rows = await step.ProcessAsync([counted, uncounted, partly], NoModels, default);

        Assert.Equal((40L, 7L), ((long)rows[0]["chosen_tokens"]!, (long)rows[0]["rejected_tokens"]!));
        Assert.Null(rows[1]["chosen_tokens"]);
        Assert.Null(rows[1]["rejected_tokens"]);
        Assert.Equal(9L, rows[2]["chosen_tokens"]);
        Assert.Null(rows[2]["rejected_tokens"]);
    }

    [Fact]
    public async Task Max_length_ratio_drops_lopsided_pairs_and_pairs_it_cannot_check()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"max_length_ratio\": 2}");
        Row WithTokens(long id, params object?[] tokens)
        {
            var row = Rated(id, Steps.List(1L, 5L), "short", "long");
            row["generation_tokens"] = tokens;
            return row;
        }

        var context = new RecordingStepContext(new Dictionary<string, IChatClient>());
        var rows = await step.ProcessAsync(
            [WithTokens(0, 10L, 20L), WithTokens(1, 10L, 21L), WithTokens(2, 0L, 3L), Rated(3, Steps.List(1L, 5L), "a", "b"), WithTokens(4, 10L)],
            context,
            default);

        Assert.Equal([0L], rows.Select(r => r.Id));
        Assert.Equal(2, context.Dropped[LengthBias.AboveMaxRatio]);
        Assert.Equal(2, context.Dropped[LengthBias.MissingTokenCounts]);
    }

    [Fact]
    public async Task Sft_output_adds_messages_of_the_sent_prompt_and_the_chosen_answer()
    {
        var step = (IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\", \"outputs\": [\"dpo\", \"sft\"]}");
        Assert.Contains("messages", step.OutputColumns);
        var sent = Sent(("system", "Answer in French."), ("user", "question 0"));
        var input = Rated(0, Steps.List(2L, 5L), "meh", "great");
        input["generation_prompts"] = Steps.List(sent, sent);

        var row = Assert.Single(await step.ProcessAsync([input], NoModels, default));

        Assert.Equal(RowJson.ToJson(Sent(("system", "Answer in French."), ("user", "question 0"), ("assistant", "great"))), RowJson.ToJson(row["messages"]));
        Assert.Equal(RowJson.ToJson(sent), RowJson.ToJson(row["prompt"]));
        Assert.DoesNotContain("messages", ((IBatchStep)Steps.Create("{\"name\": \"pairs\", \"type\": \"preference_pairs\"}")).OutputColumns);
    }
}

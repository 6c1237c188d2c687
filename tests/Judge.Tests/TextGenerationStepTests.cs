using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

public class TextGenerationStepTests
{
    private static (IBatchStep Step, ScriptedChatClient Client, RecordingStepContext Context) Make(string extra, Func<IReadOnlyList<ChatMessage>, ChatOptions?, string>? answer = null)
    {
        var client = new ScriptedChatClient(answer ?? ((m, o) => $"echo {m[^1].Text} #{o!.Seed}"), "model-a");
        var step = (IBatchStep)Steps.Create($"{{\"name\": \"gen_a\", \"type\": \"text_generation\", \"model\": \"a\"{extra}}}");
        return (step, client, new RecordingStepContext(new Dictionary<string, IChatClient> { ["a"] = client }));
    }

    [Fact]
    public async Task Adds_generation_model_name_and_step_named_token_columns()
    {
        var (step, _, context) = Make("");
        var rows = await step.ProcessAsync([Steps.Row(0, ("instruction", "Say hi"))], context, default);

        var row = Assert.Single(rows);
        Assert.StartsWith("echo Say hi #", row.GetString("generation"));
        Assert.Equal("model-a", row["model_name"]);
        Assert.Equal(10L, row["gen_a_input_tokens"]);
        Assert.Equal(3L, row["gen_a_output_tokens"]);
        Assert.Equal(["generation", "model_name", "prompt_messages", "gen_a_input_tokens", "gen_a_output_tokens", "generation_tokens"], step.OutputColumns);
        Assert.Equal((10, 3), (context.InputTokens, context.OutputTokens));
    }

    [Fact]
    public async Task Template_fills_placeholders_and_system_prompt_comes_first()
    {
        var (step, client, context) = Make(", \"template\": \"Topic: {{topic}}\\nTask: {{instruction}}\", \"system_prompt\": \"Be brief.\"");
        Assert.Equal(["topic", "instruction"], step.InputColumns);

        var row = Assert.Single(await step.ProcessAsync([Steps.Row(3, ("instruction", "Explain rain"), ("topic", "Science"))], context, default));

        var messages = Assert.Single(client.Requests).Messages;
        Assert.Equal([ChatRole.System, ChatRole.User], messages.Select(m => m.Role).ToArray());
        Assert.Equal("Be brief.", messages[0].Text);
        Assert.Equal("Topic: Science\nTask: Explain rain", messages[1].Text);

        // The row records exactly what was sent, for preference_pairs' prompt.
        var recorded = ((IReadOnlyList<object?>)row["prompt_messages"]!).Cast<IReadOnlyDictionary<string, object?>>().ToList();
        Assert.Equal(messages.Select(m => (m.Role.Value, m.Text)), recorded.Select(m => ((string)m["role"]!, (string)m["content"]!)));
    }

    [Fact]
    public async Task Per_row_seed_depends_on_seed_and_row_id_not_on_batching()
    {
        var (step, client, context) = Make(", \"generation\": {\"seed\": 7, \"temperature\": 0.5, \"max_new_tokens\": 12, \"min_p\": 0.1, \"repetition_penalty\": 1.1}");
        var rows = Enumerable.Range(0, 6).Select(i => Steps.Row(i, ("instruction", $"p{i}"))).ToArray();

        await step.ProcessAsync(rows, context, default);
        var together = client.Requests.ToDictionary(r => r.Messages[^1].Text, r => r.Options!.Seed);
        client.Requests.Clear();
        await step.ProcessAsync(rows[3..], context, default);
        await step.ProcessAsync(rows[..3], context, default);
        var split = client.Requests.ToDictionary(r => r.Messages[^1].Text, r => r.Options!.Seed);

        Assert.Equal(together.OrderBy(p => p.Key), split.OrderBy(p => p.Key));
        Assert.Equal(6, together.Values.Distinct().Count());
        var options = client.Requests[0].Options!;
        Assert.Equal(0.5f, options.Temperature);
        Assert.Equal(12, options.MaxOutputTokens);
        Assert.Equal(0.1, options.AdditionalProperties!["min_p"]);
        Assert.Equal(1.1, options.AdditionalProperties!["repetition_penalty"]);
    }

    [Fact]
    public async Task Several_generations_become_lists_with_distinct_seeds()
    {
        var (step, client, context) = Make(", \"num_generations\": 3");
        var row = Assert.Single(await step.ProcessAsync([Steps.Row(0, ("instruction", "x"))], context, default));

        var generations = Assert.IsAssignableFrom<IReadOnlyList<object?>>(row["generations"]);
        Assert.Equal(3, generations.Count);
        Assert.Equal(3, generations.Distinct().Count());
        Assert.Equal(["model-a", "model-a", "model-a"], Assert.IsAssignableFrom<IReadOnlyList<object?>>(row["model_names"]));
        Assert.Equal(30L, row["gen_a_input_tokens"]);
        Assert.Equal(3, client.Requests.Select(r => r.Options!.Seed).Distinct().Count());
    }

    [Fact]
    public async Task A_failed_request_marks_only_its_row()
    {
        var (step, _, context) = Make("", (m, _) => m[^1].Text == "bad" ? throw new InvalidOperationException("server said no") : "fine");
        var rows = await step.ProcessAsync(
            [Steps.Row(0, ("instruction", "ok")), Steps.Row(1, ("instruction", "bad")), Steps.Row(2, ("instruction", "ok too"))], context, default);

        Assert.Equal(3, rows.Count);
        Assert.Equal("fine", rows[0]["generation"]);
        Assert.Equal("fine", rows[2]["generation"]);
        Assert.Contains("server said no", Assert.Single(context.Errors).Value);
        Assert.Equal(1, Assert.Single(context.Errors).Key);
    }

    [Fact]
    public async Task A_missing_template_column_is_a_row_error()
    {
        var (step, client, context) = Make("");
        var rows = await step.ProcessAsync([Steps.Row(0, ("instruction", null)), Steps.Row(1, ("instruction", "fine"))], context, default);

        Assert.Contains("'instruction' is missing", context.Errors[0]);
        Assert.Single(client.Requests);
        Assert.NotNull(rows[1]["generation"]);
    }

    [Theory]
    [InlineData(", \"num_generations\": 0", "$.steps[0].num_generations")]
    [InlineData(", \"generation\": {\"temprature\": 1}", "$.steps[0].generation")]
    [InlineData(", \"generation\": {\"top_p\": 1.5}", "$.steps[0].generation.top_p")]
    [InlineData(", \"generation\": {\"temperature\": -0.5}", "$.steps[0].generation.temperature")]
    [InlineData(", \"generation\": {\"top_k\": -1}", "$.steps[0].generation.top_k")]
    [InlineData(", \"generation\": {\"min_p\": 1.2}", "$.steps[0].generation.min_p")]
    [InlineData(", \"generation\": {\"repetition_penalty\": 0}", "$.steps[0].generation.repetition_penalty")]
    [InlineData(", \"template\": \"no placeholders\"", "$.steps[0].template")]
    [InlineData(", \"system_prompt\": \"a\", \"system_prompt_column\": \"b\"", "$.steps[0].system_prompt_column")]
    public void Bad_parameters_are_located_errors(string extra, string path)
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Make(extra));
        Assert.Equal(path, e.JsonPath);
        Assert.Equal("test.json", e.File);
    }
}

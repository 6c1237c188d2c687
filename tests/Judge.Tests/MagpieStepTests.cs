using Distil.Engine;
using Distil.Engine.Text;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

/// <summary>magpie on a real tiny ONNX model: the pre-query prompt, turns, seeds, the source form and its validation.</summary>
[Collection(TinyModelCollection.Name)]
public class MagpieStepTests(TinyModels models)
{
    private static RecordingStepContext Context(IChatClient client) => new(new Dictionary<string, IChatClient> { ["writer"] = client });

    private static ChatOptions Continuing() => new() { AdditionalProperties = new() { [FinalMessageContinuation.OptionKey] = true } };

    [Fact]
    public void The_pre_query_text_is_cut_from_the_models_own_template_at_the_user_content()
    {
        // Llama 3 (built-in) and a ChatML Jinja template: the prompt ends where the user's words would start.
        IReadOnlyList<ChatMessage> conversation = [new(ChatRole.System, "Be kind."), new(ChatRole.User, string.Empty)];
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
            FinalMessageContinuation.Render(ChatTemplates.Get(ChatTemplates.Llama3), conversation));
        var chatml = new JinjaChatTemplate(
            "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
            "chatml.jinja", null, null);
        Assert.Equal("<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n", FinalMessageContinuation.Render(chatml, conversation));

        // A template that rewrites the content cannot be cut, and says so.
        var shouting = new JinjaChatTemplate("{% for m in messages %}{{ m.content | upper }}{% endfor %}", "upper.jinja", null, null);
        var e = Assert.Throws<InvalidOperationException>(() => FinalMessageContinuation.Render(shouting, conversation));
        Assert.Contains("upper.jinja", e.Message);
    }

    [Fact]
    public async Task The_instruction_is_generated_from_the_pre_query_prompt_then_answered()
    {
        await using var client = models.Open(models.A);
        var step = (IBatchStep)Steps.Create("""{"name": "magpie", "type": "magpie", "model": "writer", "system_prompt": "You are a helpful assistant.", "generation": {"max_new_tokens": 5, "seed": 3}}""");
        var context = Context(client);

        var rows = await step.ProcessAsync([new Row(0), new Row(1)], context, default);

        Assert.Empty(context.Errors);
        Assert.All(rows, row =>
        {
            Assert.False(string.IsNullOrWhiteSpace(row.GetString("instruction")));
            Assert.NotNull(row.GetString("response"));
            Assert.Equal(client.ModelId, row["model_name"]);
        });

        // The instruction request's prompt is the pre-query text, not a closed user turn plus an assistant header:
        // the row's input tokens are that prompt's tokens plus the answer request's (system + instruction + header).
        List<ChatMessage> preQuery = [new(ChatRole.System, "You are a helpful assistant."), new(ChatRole.User, string.Empty)];
        Assert.EndsWith("<|start_header_id|>user<|end_header_id|>\n\n", client.RenderPrompt(preQuery, Continuing()));
        var preQueryTokens = client.Tokenize(preQuery, Continuing()).Length;
        Assert.True(preQueryTokens < client.Tokenize(preQuery).Length);
        foreach (var row in rows)
        {
            var answerPrompt = client.Tokenize([new(ChatRole.System, "You are a helpful assistant."), new(ChatRole.User, row.GetString("instruction"))]).Length;
            Assert.Equal((long)(preQueryTokens + answerPrompt), row["magpie_input_tokens"]);
        }
    }

    [Fact]
    public async Task Several_turns_make_a_conversation_and_the_same_seed_writes_the_same_rows()
    {
        await using var client = models.Open(models.A);
        const string Json = """{"name": "magpie", "type": "magpie", "model": "writer", "n_turns": 2, "system_prompt_column": "persona", "generation": {"max_new_tokens": 4, "temperature": 1.0, "seed": 9}}""";
        Row[] Input() => [Steps.Row(4, ("persona", "You are a chemist.")), Steps.Row(5, ("persona", null))];

        var first = await ((IBatchStep)Steps.Create(Json)).ProcessAsync(Input(), Context(client), default);
        var second = await ((IBatchStep)Steps.Create(Json)).ProcessAsync(Input().Reverse().ToArray(), Context(client), default);

        var withPersona = first.Single(r => r.Id == 4);
        var roles = ((IReadOnlyList<object?>)withPersona["conversation"]!).Cast<IReadOnlyDictionary<string, object?>>().Select(m => (string)m["role"]!).ToList();
        Assert.Equal(["system", "user", "assistant", "user", "assistant"], roles);
        var plain = ((IReadOnlyList<object?>)first.Single(r => r.Id == 5)["conversation"]!).Cast<IReadOnlyDictionary<string, object?>>().ToList();
        Assert.Equal(["user", "assistant", "user", "assistant"], plain.Select(m => (string)m["role"]!));
        Assert.Equal(plain[0]["content"], first.Single(r => r.Id == 5)["instruction"]);
        foreach (var row in first)
        {
            var again = second.Single(r => r.Id == row.Id);
            Assert.Equal(RowJson(row), RowJson(again));
        }
    }

    [Fact]
    public async Task With_num_rows_it_is_a_source_that_honours_the_range()
    {
        await using var client = models.Open(models.A);
        var source = Assert.IsType<MagpieGenerator>(Steps.Create("""{"name": "magpie", "type": "magpie", "model": "writer", "num_rows": 10, "batch_size": 2, "only_instruction": true, "generation": {"max_new_tokens": 3}}"""));
        Assert.Equal(10L, await source.CountAsync(default));
        Assert.Equal(["instruction", "model_name", "magpie_input_tokens", "magpie_output_tokens"], source.OutputColumns);

        var rows = new List<Row>();
        await foreach (var row in source.ReadAsync(new SourceRange(7, 5), Context(client), default))
        {
            rows.Add(row);
        }

        Assert.Equal([7L, 8L, 9L], rows.Select(r => r.Id));
        Assert.All(rows, r => Assert.False(string.IsNullOrWhiteSpace(r.GetString("instruction"))));
    }

    [Theory]
    [InlineData("""{"type": "openai", "endpoint": "http://127.0.0.1:9/v1", "model": "m"}""", "$.steps[0].model", "needs a local model")]
    [InlineData("""{"type": "local", "path": "m"}""", "$.steps[0].n_turns", "'n_turns' must be between 1 and 64")]
    public void Validation_refuses_served_models_and_bad_values_at_their_json_path(string model, string path, string message)
    {
        var json = $$"""{"name": "p", "models": {"writer": {{model}}}, "steps": [{"name": "magpie", "type": "magpie", "model": "writer", "num_rows": 3{{(path.EndsWith("n_turns", StringComparison.Ordinal) ? ", \"n_turns\": 0" : "")}}}, {"name": "out", "type": "write_jsonl", "path": "o.jsonl"}]}""";
        var e = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, "p.json", Steps.Registry));
        var problem = Assert.Single(e.Problems.Count > 0 ? e.Problems : [e], p => p.JsonPath!.StartsWith("$.steps", StringComparison.Ordinal));
        Assert.Equal(path, problem.JsonPath);
        Assert.Contains(message, problem.Message);
    }

    [Fact]
    public void A_source_magpie_cannot_read_its_system_prompt_from_a_column()
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Steps.Create("""{"name": "magpie", "type": "magpie", "model": "writer", "num_rows": 3, "system_prompt_column": "persona"}"""));
        Assert.Equal("$.steps[0].system_prompt_column", e.JsonPath);
        var turns = Assert.Throws<PipelineDefinitionException>(() => Steps.Create("""{"name": "magpie", "type": "magpie", "model": "writer", "n_turns": 2, "only_instruction": true}"""));
        Assert.Equal("$.steps[0].only_instruction", turns.JsonPath);
    }

    private static string RowJson(Row row) =>
        string.Join("\n", row.Columns.Order(StringComparer.Ordinal).Select(c => $"{c}={PromptTemplate.Format(row[c])}"));
}

using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

[Collection(TinyModelCollection.Name)]
public class SelfInstructStepTests(TinyModels models)
{
    private static IBatchStep Make(string extra = "") =>
        (IBatchStep)Steps.Create($$"""{"name": "self", "type": "self_instruct", "model": "m"{{extra}}}""");

    [Fact]
    public void Numbered_answers_drop_preamble_closing_remark_empties_repeats_and_the_seed()
    {
        const string Answer = """
            Sure! Here are some new tasks:

            1. Write a haiku about autumn.
            2) Explain how vaccines train
               the immune system.
            3. write a  haiku about AUTUMN.
            4.
            #5: Name three prime numbers.
            6. Summarize a news article.

            I hope these help!
            """;

        var parsed = InstructionList.Parse(Answer, ["Summarize a news article."]);

        Assert.Equal(["Write a haiku about autumn.", "Explain how vaccines train\nthe immune system.", "Name three prime numbers."], parsed);
    }

    [Fact]
    public void Unnumbered_answers_are_read_a_line_or_bullet_each()
    {
        Assert.Equal(["List five fruits.", "Translate 'hello' to French.", "Describe a cat."],
            InstructionList.Parse("List five fruits.\n- Translate 'hello' to French.\n\n* Describe a cat.\n- List five fruits.", []));
    }

    [Fact]
    public async Task Each_row_gets_a_list_of_new_instructions_and_the_count_parsed()
    {
        var client = new ScriptedChatClient((m, _) => "1. Plan a picnic.\n2. Plan a picnic.\n3. Compare two sorting algorithms.\n4. Draft a thank-you note.", "writer");
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["m"] = client });

        var rows = await Make(""", "num_instructions": 2, "criteria": "Keep each under ten words." """)
            .ProcessAsync([Steps.Row(0, ("instruction", "Plan a birthday party.")), Steps.Row(1, ("instruction", "  "))], context, default);

        Assert.Equal(["Plan a picnic.", "Compare two sorting algorithms."], ((IReadOnlyList<object?>)rows[0]["instructions"]!).Cast<string>());
        Assert.Equal(2L, rows[0]["instructions_parsed"]);
        Assert.Equal("writer", rows[0]["model_name"]);
        var prompt = Assert.Single(client.Requests).Messages.Single().Text;
        Assert.Contains("Plan a birthday party.", prompt);
        Assert.Contains("Write 2 new tasks", prompt);
        Assert.Contains("Keep each under ten words.", prompt);
        Assert.Contains("'instruction' is missing or empty", context.Errors[1]);
    }

    [Fact]
    public async Task An_answer_with_no_instruction_fails_its_row_with_the_answer()
    {
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["m"] = new ScriptedChatClient((_, _) => "\n\n") });
        await Make().ProcessAsync([Steps.Row(0, ("instruction", "Plan a party."))], context, default);
        Assert.Contains("no instruction could be read", context.Errors[0]);
    }

    [Fact]
    public async Task Runs_on_a_real_local_model_with_per_row_seeds()
    {
        await using var client = models.Open(models.B);
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["m"] = client });
        var step = Make(""", "generation": {"max_new_tokens": 12, "temperature": 1.0, "seed": 4}""");
        Row[] Input() => [Steps.Row(0, ("instruction", "Plan a party.")), Steps.Row(1, ("instruction", "Plan a party."))];

        var first = await step.ProcessAsync(Input(), context, default);
        var again = await step.ProcessAsync(Input()[1..], context, default);

        Assert.True(context.InputTokens > 0);
        var parsed = first[1]["instructions"] as IReadOnlyList<object?>;
        Assert.Equal(parsed?.Count ?? 0, (long?)first[1]["instructions_parsed"] ?? 0);
        // Row 1 writes the same whether it runs beside row 0 or alone.
        Assert.Equal(PromptTemplate.Format(first[1]["instructions"]), PromptTemplate.Format(again[0]["instructions"]));
    }

    [Fact]
    public void Bad_values_are_refused_at_their_json_path()
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Make(""", "num_instructions": 0"""));
        Assert.Equal("$.steps[0].num_instructions", e.JsonPath);
    }
}

using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

[Collection(TinyModelCollection.Name)]
public class EvolInstructStepTests(TinyModels models)
{
    private static IBatchStep Make(string extra = "") =>
        (IBatchStep)Steps.Create($$"""{"name": "evol", "type": "evol_instruct", "model": "m"{{extra}}}""");

    [Theory]
    [InlineData("", "empty")]
    [InlineData("  Write a poem. ", "copy")]
    [InlineData("#Rewritten Prompt#: Write a sonnet with a volta.", "leak")]
    [InlineData("The rewritten prompt asks for a sonnet.", "leak")]
    [InlineData("Poem?", "too_short")]
    [InlineData("Write a sonnet about rain whose volta turns to hope.", "kept")]
    public void Failed_evolutions_are_eliminated_with_their_reason(string evolved, string outcome) =>
        Assert.Equal(outcome, EvolutionCheck.Judge(evolved, "write a   poem.", 12));

    [Fact]
    public async Task Rounds_keep_the_last_good_evolution_and_record_each_outcome()
    {
        var answers = new Queue<string>(["Write a poem.", "#Rewritten Prompt#: nope", "Write a poem about rain in exactly four lines."]);
        var client = new ScriptedChatClient((_, _) => answers.Dequeue(), "evolver");
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["m"] = client });

        var row = Assert.Single(await Make(""", "num_evolutions": 3, "evolutions": ["deepen", "concretize"]""")
            .ProcessAsync([Steps.Row(0, ("instruction", "Write a poem."))], context, default));

        Assert.Equal("Write a poem about rain in exactly four lines.", row["evolved_instruction"]);
        Assert.Equal(["copy", "leak", "kept"], ((IReadOnlyList<object?>)row["evolution_outcomes"]!).Cast<string>());
        var operations = ((IReadOnlyList<object?>)row["evolution_operations"]!).Cast<string>().ToList();
        Assert.Equal(3, operations.Count);
        Assert.All(operations, o => Assert.Contains(o, new[] { "deepen", "concretize" }));
        Assert.Equal(1L, row["evolutions_kept"]);
        Assert.Equal(3L * 10, row["evol_input_tokens"]);

        // Every round shows the last kept prompt: the failures do not feed the next round.
        Assert.All(client.Requests, r => Assert.Contains("#Given Prompt#:\nWrite a poem.\n", r.Messages.Single().Text));
        Assert.Equal(3, client.Requests.Select(r => r.Options!.Seed).Distinct().Count());
    }

    [Fact]
    public async Task Runs_on_a_real_local_model()
    {
        await using var client = models.Open(models.A);
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["m"] = client });

        var rows = await Make(""", "num_evolutions": 2, "min_length": 1, "generation": {"max_new_tokens": 6, "seed": 2}""")
            .ProcessAsync([Steps.Row(0, ("instruction", "Explain rain.")), Steps.Row(1, ("instruction", "Name a bird."))], context, default);

        Assert.Empty(context.Errors);
        Assert.All(rows, row =>
        {
            Assert.Equal(2, ((IReadOnlyList<object?>)row["evolution_outcomes"]!).Count);
            Assert.False(string.IsNullOrWhiteSpace(row.GetString("evolved_instruction")));
            Assert.True((long)row["evol_output_tokens"]! > 0);
        });
    }

    [Fact]
    public void Unknown_evolutions_are_refused_at_their_json_path()
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Make(""", "evolutions": ["deepen", "widen"]"""));
        Assert.Equal("$.steps[0].evolutions[1]", e.JsonPath);
        Assert.Contains("add_constraints, deepen, concretize, increase_reasoning, breadth", e.Message);
    }
}

using System.Text.Json;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

/// <summary>
/// <c>"input": "messages"</c>: a multi-turn chat feeds text_generation (the model answers its last user turn with
/// the whole conversation in view), the judges (the last user turn is the instruction, earlier turns its context)
/// and preference_pairs (the DPO prompt is the whole conversation). Bad messages fail their row, naming the field.
/// </summary>
[Collection(TinyModelCollection.Name)]
public class ConversationInputTests(TinyModels models)
{
    private static IReadOnlyList<object?> Chat(params (string Role, string Content)[] messages) =>
        messages.Select(m => (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role, ["content"] = m.Content }).ToList();

    private static readonly IReadOnlyList<object?> ThreeTurns = Chat(
        ("user", "Name a prime number."),
        ("assistant", "Seven."),
        ("user", "And one larger than it?"));

    private static (IBatchStep Step, ScriptedChatClient Client, RecordingStepContext Context) Make(string json, Func<IReadOnlyList<ChatMessage>, ChatOptions?, string> answer)
    {
        var client = new ScriptedChatClient(answer, "model-a");
        var step = (IBatchStep)Steps.Create(json);
        return (step, client, new RecordingStepContext(new Dictionary<string, IChatClient> { ["a"] = client }));
    }

    private static List<(string Role, string Text)> Roles(IReadOnlyList<ChatMessage> messages) => messages.Select(m => (m.Role.Value, m.Text)).ToList();

    [Fact]
    public async Task Text_generation_sends_the_whole_conversation_and_records_it_as_the_prompt()
    {
        var (step, client, context) = Make(
            """{"name": "gen", "type": "text_generation", "model": "a", "input": "messages", "system_prompt": "Be brief."}""", (_, _) => "Eleven.");
        Assert.Equal(["messages"], step.InputColumns);
        var ownSystem = Chat(("system", "Answer in French."), ("user", "Bonjour ?"));

        var rows = await step.ProcessAsync([Steps.Row(0, ("messages", ThreeTurns)), Steps.Row(1, ("messages", ownSystem))], context, default);

        Assert.Empty(context.Errors);
        Assert.Equal(
            [("system", "Be brief."), ("user", "Name a prime number."), ("assistant", "Seven."), ("user", "And one larger than it?")],
            Roles(client.Requests.Single(r => r.Messages.Count == 4).Messages));
        // A conversation with its own system prompt keeps it; the step's is the default for those without one.
        Assert.Equal([("system", "Answer in French."), ("user", "Bonjour ?")], Roles(client.Requests.Single(r => r.Messages.Count == 2).Messages));
        Assert.Equal("Eleven.", rows[0]["generation"]);
        var recorded = (IReadOnlyList<object?>)rows[0]["prompt_messages"]!;
        Assert.Equal(4, recorded.Count);
        Assert.Equal(RowJson.ToJson(ThreeTurns), RowJson.ToJson(recorded.Skip(1).ToList()));
    }

    public static TheoryData<string, string> BadConversations => new()
    {
        { """[]""", "'messages' is an empty list" },
        { "\"just text\"", "'messages' must be a list of {role, content} messages, not a string" },
        { """[{"content": "hi"}]""", "'messages[0].role' is missing" },
        { """[{"role": "bot", "content": "hi"}]""", "'messages[0].role' is 'bot', which is not a known role" },
        { """[{"role": "user"}]""", "'messages[0].content' is missing" },
        { """[{"role": "user", "content": "  "}]""", "'messages[0].content' is empty" },
        { """[{"role": "user", "content": ["a"]}]""", "'messages[0].content' must be text, not a list" },
        { """["hi"]""", "'messages[0]' must be a {role, content} object, not a string" },
        { """[{"role": "user", "content": "a"}, {"role": "system", "content": "b"}, {"role": "user", "content": "c"}]""", "'messages[1].role' is 'system' after the first message" },
        { """[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]""", "'messages' ends with an assistant message; the last message must be the user turn" },
    };

    [Theory]
    [MemberData(nameof(BadConversations))]
    public async Task A_bad_conversation_fails_its_row_naming_the_field(string messages, string expected)
    {
        var (step, client, context) = Make("""{"name": "gen", "type": "text_generation", "model": "a", "input": "messages"}""", (_, _) => "fine");
        using var document = JsonDocument.Parse($$"""{"messages": {{messages}}}""");
        var bad = RowJson.ToRow(5, document.RootElement);

        var rows = await step.ProcessAsync([bad, Steps.Row(6, ("messages", ThreeTurns))], context, default);

        Assert.Contains(expected, Assert.Single(context.Errors, e => e.Key == 5).Value);
        Assert.StartsWith("gen: ", context.Errors[5]);
        Assert.Single(client.Requests);
        Assert.Equal("fine", rows[1]["generation"]);
    }

    [Theory]
    [InlineData("""{"name": "gen", "type": "text_generation", "model": "a", "input": "messages", "template": "{{instruction}}"}""", "$.steps[0].template")]
    [InlineData("""{"name": "gen", "type": "text_generation", "model": "a", "input": "conversation"}""", "$.steps[0].input")]
    [InlineData("""{"name": "j", "type": "ultrafeedback", "model": "a", "input": "chat"}""", "$.steps[0].input")]
    [InlineData("""{"name": "p", "type": "preference_pairs", "input": 3}""", "$.steps[0].input")]
    public void Bad_input_parameters_are_located_errors(string json, string path)
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Steps.Create(json));
        Assert.Equal(path, e.JsonPath);
    }

    [Fact]
    public async Task Ultrafeedback_judges_the_last_user_turn_with_the_earlier_turns_as_context()
    {
        var (step, client, context) = Make(
            """{"name": "judge", "type": "ultrafeedback", "model": "a", "input": "messages", "shuffle": false}""",
            (_, _) => """{"ratings": [5, 1], "rationales": ["right", "wrong"]}""");
        Assert.Equal(["messages", "generations"], step.InputColumns);

        var row = Assert.Single(await step.ProcessAsync([Steps.Row(0, ("messages", ThreeTurns), ("generations", Steps.List("Eleven.", "Four.")))], context, default));

        Assert.Equal([5L, 1L], (IReadOnlyList<object?>)row["ratings"]!);
        var shown = client.Requests.Single().Messages[^1].Text;
        AssertInOrder(shown, "## Conversation so far", "### User\nName a prime number.", "### Assistant\nSeven.", "## Instruction\nAnd one larger than it?", "### Text 1\nEleven.", "### Text 2\nFour.");
    }

    [Fact]
    public async Task Rubric_and_pairwise_judges_see_the_conversation_too()
    {
        var (rubric, rubricClient, rubricContext) = Make(
            """{"name": "grade", "type": "rubric_judge", "model": "a", "input": "messages", "rubric": {"criteria": "correct?", "scores": {"1": "no", "2": "yes"}}}""",
            (_, _) => """{"feedback": "ok", "score": 2}""");
        var (pairwise, pairwiseClient, pairwiseContext) = Make(
            """{"name": "pw", "type": "pairwise_judge", "model": "a", "input": "messages"}""",
            (m, _) => m[^1].Text.Contains("## Response A\nEleven.", StringComparison.Ordinal) ? """{"rationale": "r", "winner": "A"}""" : """{"rationale": "r", "winner": "B"}""");
        Row Input() => Steps.Row(0, ("messages", ThreeTurns), ("generations", Steps.List("Eleven.", "Four.")));

        var graded = Assert.Single(await rubric.ProcessAsync([Input()], rubricContext, default));
        var compared = Assert.Single(await pairwise.ProcessAsync([Input()], pairwiseContext, default));

        Assert.Equal([2L, 2L], (IReadOnlyList<object?>)graded["ratings"]!);
        Assert.Equal(0L, compared["pairwise_winner"]);
        foreach (var request in rubricClient.Requests.Concat(pairwiseClient.Requests))
        {
            AssertInOrder(request.Messages[^1].Text, "## Conversation so far", "### User\nName a prime number.", "### Assistant\nSeven.", "## Instruction\nAnd one larger than it?");
        }

        // A judge row with a bad conversation fails with the field named, like a generator's.
        var (_, _, failing) = Make("""{"name": "pw", "type": "pairwise_judge", "model": "a", "input": "messages"}""", (_, _) => "");
        await pairwise.ProcessAsync([Steps.Row(3, ("messages", Chat(("assistant", "hi"))), ("generations", Steps.List("a", "b")))], failing, default);
        Assert.Contains("'messages' ends with an assistant message", failing.Errors[3]);
    }

    [Fact]
    public async Task Preference_pairs_keep_the_whole_conversation_as_the_dpo_prompt()
    {
        var step = (IBatchStep)Steps.Create("""{"name": "pairs", "type": "preference_pairs", "input": "messages", "outputs": ["dpo", "sft"]}""");
        Row Rated(long id, IReadOnlyList<object?> chat) => Steps.Row(id, ("messages", chat), ("generations", Steps.List("Eleven.", "Four.")), ("ratings", Steps.List(5L, 1L)));
        var otherChat = Chat(("user", "Name an even number."), ("assistant", "Two."), ("user", "And one larger than it?"));

        var rows = await step.ProcessAsync([Rated(0, ThreeTurns), Rated(1, otherChat)], new RecordingStepContext(new Dictionary<string, IChatClient>()), default);

        Assert.Equal(RowJson.ToJson(ThreeTurns), RowJson.ToJson(rows[0]["prompt"]));
        Assert.Equal("""[{"role":"assistant","content":"Eleven."}]""", RowJson.ToJson(rows[0]["chosen"]));
        Assert.Equal("""[{"role":"assistant","content":"Four."}]""", RowJson.ToJson(rows[0]["rejected"]));
        Assert.Equal(RowJson.ToJson(Chat(("user", "Name a prime number."), ("assistant", "Seven."), ("user", "And one larger than it?"), ("assistant", "Eleven."))), RowJson.ToJson(rows[0]["messages"]));
        // Two chats that end with the same words are different prompts (the train/test split groups by this id).
        Assert.NotEqual(rows[0]["prompt_id"], rows[1]["prompt_id"]);
    }

    [Fact]
    public async Task A_local_model_reads_the_conversation_through_its_own_chat_template()
    {
        await using var client = models.Open(models.A);
        var step = (IBatchStep)Steps.Create("""{"name": "gen", "type": "text_generation", "model": "a", "input": "messages", "generation": {"max_new_tokens": 4, "seed": 1}}""");
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["a"] = client });

        var row = Assert.Single(await step.ProcessAsync([Steps.Row(0, ("messages", ThreeTurns))], context, default));

        Assert.Empty(context.Errors);
        Assert.NotNull(row.GetString("generation"));
        var sent = ((IReadOnlyList<object?>)row["prompt_messages"]!).Cast<IReadOnlyDictionary<string, object?>>()
            .Select(m => new ChatMessage(new ChatRole((string)m["role"]!), (string)m["content"]!)).ToList();
        var rendered = client.RenderPrompt(sent);
        AssertInOrder(rendered, "<|start_header_id|>user<|end_header_id|>\n\nName a prime number.", "<|start_header_id|>assistant<|end_header_id|>\n\nSeven.",
            "<|start_header_id|>user<|end_header_id|>\n\nAnd one larger than it?", "<|start_header_id|>assistant<|end_header_id|>\n\n");
        // The tokens the engine reports reading are exactly the rendered conversation's.
        Assert.Equal((long)client.Tokenize(sent).Length, row["gen_input_tokens"]);
    }

    [Fact]
    public async Task A_served_model_is_sent_the_messages_array()
    {
        await using var server = new LoopbackOpenAIServer { BaseLatency = TimeSpan.Zero };
        using var document = JsonDocument.Parse($$"""{"type": "openai", "endpoint": "{{server.Endpoint}}", "model": "served"}""");
        using var client = await new ModelCatalog().OpenAsync("a", new StepParameters(document.RootElement.Clone(), "$.models.a", "test.json", _ => 1), default);
        var step = (IBatchStep)Steps.Create("""{"name": "gen", "type": "text_generation", "model": "a", "input": "messages", "system_prompt": "Be brief."}""");
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["a"] = client });

        var row = Assert.Single(await step.ProcessAsync([Steps.Row(0, ("messages", ThreeTurns))], context, default));

        Assert.Equal("served says hi", row["generation"]);
        var received = Assert.Single(server.ReceivedMessages);
        Assert.Equal(
            [("system", "Be brief."), ("user", "Name a prime number."), ("assistant", "Seven."), ("user", "And one larger than it?")],
            received.EnumerateArray().Select(m => (m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList());
    }

    private static void AssertInOrder(string text, params string[] parts)
    {
        var at = 0;
        foreach (var part in parts)
        {
            var found = text.IndexOf(part, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"'{part}' not found after position {at} in:\n{text}");
            at = found + part.Length;
        }
    }
}

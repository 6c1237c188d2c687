using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>text_generation</c>: one or more responses per row from one model. The user message is the
/// <c>instruction</c> column or a <c>template</c> with <c>{{column}}</c> placeholders; an optional system prompt
/// is a literal (<c>system_prompt</c>) or a column (<c>system_prompt_column</c>). Requests of a batch go to the
/// model together (the local engine batches them; remote endpoints get concurrent calls).
/// Adds <c>generation</c> and <c>model_name</c> (with <c>num_generations</c> &gt; 1: the lists <c>generations</c>
/// and <c>model_names</c>), the token columns of <see cref="TokenColumns"/>, and <c>prompt_messages</c>: the exact
/// messages sent (<c>[{role, content}]</c>, system prompt and rendered user turn), which <c>preference_pairs</c>
/// turns into the dataset's prompt. With <c>"input": "messages"</c> the prompt is a whole conversation from the
/// <c>messages</c> column (<see cref="Conversation"/>; it must end with a user turn) and the model writes the next
/// assistant turn; the system prompt is added only to conversations that do not open with their own.
/// </summary>
public sealed class TextGenerationStep : ModelTask
{
    public static readonly StepType Type = new(
        "text_generation",
        ParametersWith("template", "system_prompt", "system_prompt_column", "num_generations", PromptInput.Parameter),
        p => new TextGenerationStep(p),
        "generates responses with a model from a template over the row's columns");

    private readonly PromptTemplate? _template;
    private readonly string? _systemPrompt;
    private readonly string? _systemPromptColumn;
    private readonly int _numGenerations;

    /// <summary>The column holding the messages a model was sent.</summary>
    public const string PromptMessagesColumn = "prompt_messages";

    public TextGenerationStep(StepParameters parameters)
        : base(parameters)
    {
        var messages = PromptInput.ReadsMessages(parameters);
        if (messages && parameters.Has("template"))
        {
            throw parameters.Error("template", "'template' writes one user message, and \"input\": \"messages\" sends the conversation as it is; give one or the other");
        }

        _template = messages ? null : parameters.GetString("template") is { } template ? PromptTemplate.Parse(template) : PromptTemplate.ForColumn("instruction");
        if (_template is { Columns.Count: 0 })
        {
            throw parameters.Error("template", "the template names no column; use {{column}} placeholders, e.g. {{instruction}}");
        }

        _systemPrompt = parameters.GetString("system_prompt");
        _systemPromptColumn = parameters.GetString("system_prompt_column");
        if (_systemPrompt is not null && _systemPromptColumn is not null)
        {
            throw parameters.Error("system_prompt_column", "give either 'system_prompt' or 'system_prompt_column', not both");
        }

        _numGenerations = parameters.GetInt32("num_generations", 1);
        if (_numGenerations < 1)
        {
            throw parameters.Error("num_generations", "'num_generations' must be at least 1");
        }

        IReadOnlyList<string> prompt = _template?.Columns ?? [Conversation.Column];
        InputColumns = _systemPromptColumn is null ? prompt : [.. prompt, _systemPromptColumn];
        OutputColumns = _numGenerations == 1
            ? ["generation", "model_name", PromptMessagesColumn, TokenColumns.Input(Name), TokenColumns.Output(Name), TokenColumns.PerResponse]
            : ["generations", "model_names", PromptMessagesColumn, TokenColumns.Input(Name), TokenColumns.Output(Name), TokenColumns.PerResponse];
    }

    public override IReadOnlyList<string> InputColumns { get; }

    public override IReadOnlyList<string> OutputColumns { get; }

    /// <summary>The messages as a row column: <c>[{role, content}]</c>.</summary>
    public static List<object?> ToColumn(IEnumerable<ChatMessage> messages) => messages
        .Select(m => (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role.Value, ["content"] = m.Text })
        .ToList();

    /// <summary>The messages for one row: the conversation as it is, or the system prompt and the rendered template.</summary>
    private bool TryBuildMessages(Row row, string? system, out IReadOnlyList<ChatMessage> messages, out string error)
    {
        messages = [];
        if (_template is null)
        {
            if (!Conversation.TryRead(row, Conversation.Column, out var conversation, out error))
            {
                return false;
            }

            messages = conversation.ToChat(system);
            return true;
        }

        if (!_template.TryRender(row, out var user, out var problem))
        {
            error = problem!;
            return false;
        }

        messages = string.IsNullOrEmpty(system)
            ? [new(ChatRole.User, user)]
            : [new(ChatRole.System, system), new(ChatRole.User, user)];
        error = string.Empty;
        return true;
    }

    protected override async Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken)
    {
        var requests = new List<ModelRequest>();
        foreach (var row in rows)
        {
            var system = _systemPromptColumn is null ? _systemPrompt : row[_systemPromptColumn] as string;
            if (!TryBuildMessages(row, system, out var messages, out var error))
            {
                calls.Fail(row, error);
                continue;
            }

            row[PromptMessagesColumn] = ToColumn(messages);
            for (var k = 0; k < _numGenerations; k++)
            {
                requests.Add(new ModelRequest(row, messages, Generation.ToChatOptions(row.Id, k)));
            }
        }

        var replies = await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false);
        var modelName = calls.ModelId;
        foreach (var group in replies.GroupBy(r => r.Row))
        {
            var row = group.Key;
            if (group.FirstOrDefault(r => r.Response is null) is { } failed)
            {
                calls.Fail(row, $"model '{Model}' failed: {failed.Error}");
                continue;
            }

            var generated = group.Select(r => r.Text).ToArray();
            var lengths = group.Select(r => r.Response!.Usage?.OutputTokenCount).ToArray();
            if (_numGenerations == 1)
            {
                row["generation"] = generated[0];
                row["model_name"] = modelName;
                row[TokenColumns.PerResponse] = lengths[0];
            }
            else
            {
                row["generations"] = generated.Cast<object?>().ToList();
                row["model_names"] = Enumerable.Repeat<object?>(modelName, _numGenerations).ToList();
                row[TokenColumns.PerResponse] = lengths.Select(n => (object?)n).ToList();
            }
        }
    }
}

using Distil.Engine.Text;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>magpie</c>: instructions written by the model itself (Magpie, Xu et al. 2024). The prompt is the model's own chat
/// template rendered up to the start of a user turn's content (the pre-query text, found by
/// <see cref="FinalMessageContinuation"/>, never hard-coded per family), so an aligned model writes a user's request;
/// then the model answers it as usual. <c>n_turns</c> repeats that for a multi-turn conversation. The system prompt
/// is fixed (<c>system_prompt</c>), a column (<c>system_prompt_column</c>) or absent. Adds <c>instruction</c> (the first
/// user turn), <c>response</c> (the first answer; left out with <c>only_instruction</c>), <c>conversation</c> (with
/// <c>n_turns</c> &gt; 1: every message, the system prompt included), <c>model_name</c> and the token columns.
/// With <c>num_rows</c> it is the pipeline's source (<see cref="MagpieGenerator"/>): a dataset from nothing but a model.
/// Only local models can do this: a served chat API always closes the user turn it is given.
/// </summary>
public sealed class MagpieStep : ModelTask, IModelRequirement
{
    public static readonly StepType Type = new(
        "magpie",
        ParametersWith("n_turns", "system_prompt", "system_prompt_column", "only_instruction", "instruction_generation", "num_rows", "batch_size"),
        p => p.Has("num_rows") ? new MagpieGenerator(p) : new MagpieStep(p),
        "has a local model write instructions itself (chat template up to the user turn), then answer them; with num_rows it is a source");

    private readonly int _turns;
    private readonly string? _systemPrompt;
    private readonly string? _systemPromptColumn;
    private readonly bool _onlyInstruction;
    private readonly GenerationSettings _instructionGeneration;

    public MagpieStep(StepParameters parameters)
        : base(parameters)
    {
        _turns = parameters.GetInt32("n_turns", 1);
        if (_turns is < 1 or > 64)
        {
            throw parameters.Error("n_turns", "'n_turns' must be between 1 and 64");
        }

        _systemPrompt = parameters.GetString("system_prompt");
        _systemPromptColumn = parameters.GetString("system_prompt_column");
        if (_systemPrompt is not null && _systemPromptColumn is not null)
        {
            throw parameters.Error("system_prompt_column", "give either 'system_prompt' or 'system_prompt_column', not both");
        }

        _onlyInstruction = parameters.GetBoolean("only_instruction", false);
        if (_onlyInstruction && _turns > 1)
        {
            throw parameters.Error("only_instruction", "'only_instruction' writes a single instruction; it cannot be combined with 'n_turns' > 1, which needs the answers");
        }

        _instructionGeneration = parameters.Has("instruction_generation") ? GenerationSettings.From(parameters, "instruction_generation") : Generation;
        InputColumns = _systemPromptColumn is null ? [] : [_systemPromptColumn];
        List<string> outputs = _onlyInstruction ? ["instruction"] : ["instruction", "response"];
        if (_turns > 1)
        {
            outputs.Add("conversation");
        }

        OutputColumns = [.. outputs, "model_name", TokenColumns.Input(Name), TokenColumns.Output(Name)];
    }

    public override IReadOnlyList<string> InputColumns { get; }

    public override IReadOnlyList<string> OutputColumns { get; }

    /// <summary>The column of the system prompt, if the prompt comes from rows.</summary>
    internal string? SystemPromptColumn => _systemPromptColumn;

    public string? Refuse(string modelName, StepParameters model) =>
        model.GetString("type") is "local"
            ? null
            : $"magpie needs a local model: it renders the model's chat template up to the start of a user turn and lets the model write that turn, "
              + $"but model {PipelineDefinitionException.Quote(modelName)} is of type {PipelineDefinitionException.Quote(model.GetString("type"))}, "
              + "whose chat API closes every user turn it is sent; use a local model folder (\"type\": \"local\")";

    protected override async Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken)
    {
        var conversations = new Dictionary<Row, List<ChatMessage>>();
        foreach (var row in rows)
        {
            var system = _systemPromptColumn is null ? _systemPrompt : row[_systemPromptColumn] as string;
            conversations[row] = string.IsNullOrEmpty(system) ? [] : [new ChatMessage(ChatRole.System, system)];
        }

        for (var turn = 0; turn < _turns && conversations.Count > 0; turn++)
        {
            await WriteInstructionsAsync(conversations, turn, calls, cancellationToken).ConfigureAwait(false);
            if (!_onlyInstruction)
            {
                await WriteResponsesAsync(conversations, turn, calls, cancellationToken).ConfigureAwait(false);
            }
        }

        var modelName = calls.ModelId;
        foreach (var (row, conversation) in conversations)
        {
            var turns = conversation.Where(m => m.Role != ChatRole.System).ToList();
            row["instruction"] = turns[0].Text;
            if (!_onlyInstruction)
            {
                row["response"] = turns[1].Text;
            }

            if (_turns > 1)
            {
                row["conversation"] = TextGenerationStep.ToColumn(conversation);
            }

            row["model_name"] = modelName;
        }
    }

    /// <summary>Each conversation's next user turn, written by the model from the pre-query text; rows whose turn is empty fail.</summary>
    private async Task WriteInstructionsAsync(Dictionary<Row, List<ChatMessage>> conversations, int turn, ModelCalls calls, CancellationToken cancellationToken)
    {
        var requests = conversations.Select(c => new ModelRequest(c.Key, [.. c.Value, new ChatMessage(ChatRole.User, string.Empty)], PreQueryOptions(c.Key.Id, turn))).ToList();
        foreach (var reply in await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false))
        {
            var instruction = reply.Text.Trim();
            if (reply.Response is null || instruction.Length == 0)
            {
                calls.Fail(reply.Row, reply.Response is null
                    ? $"model '{Model}' failed writing the instruction of turn {turn + 1}: {reply.Error}"
                    : $"model '{Model}' wrote an empty instruction in turn {turn + 1}");
                conversations.Remove(reply.Row);
                continue;
            }

            conversations[reply.Row].Add(new ChatMessage(ChatRole.User, instruction));
        }
    }

    private async Task WriteResponsesAsync(Dictionary<Row, List<ChatMessage>> conversations, int turn, ModelCalls calls, CancellationToken cancellationToken)
    {
        var requests = conversations.Select(c => new ModelRequest(c.Key, c.Value.ToList(), Generation.ToChatOptions(c.Key.Id, (2 * turn) + 1))).ToList();
        foreach (var reply in await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false))
        {
            if (reply.Response is null)
            {
                calls.Fail(reply.Row, $"model '{Model}' failed answering turn {turn + 1}: {reply.Error}");
                conversations.Remove(reply.Row);
                continue;
            }

            conversations[reply.Row].Add(new ChatMessage(ChatRole.Assistant, reply.Text));
        }
    }

    private ChatOptions PreQueryOptions(long rowId, int turn)
    {
        var options = _instructionGeneration.ToChatOptions(rowId, 2 * turn);
        options.AdditionalProperties ??= [];
        options.AdditionalProperties[FinalMessageContinuation.OptionKey] = true;
        return options;
    }
}

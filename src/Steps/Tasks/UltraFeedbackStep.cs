using Distil.Judge;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>ultrafeedback</c>: an LLM judge rates the N responses of each row (<c>generations</c>) for the row's
/// <c>instruction</c> on one UltraFeedback aspect, in a single call per row. The responses are shown in a seeded
/// per-row order and the ratings mapped back. With <c>structured_output</c> (default) the answer is constrained by
/// <see cref="JudgeSchema"/>, so a local judge always returns exactly N ratings in 1..5. Adds <c>ratings</c>,
/// <c>rationales</c>, <c>types</c> (helpfulness and truthfulness), <c>judge_model</c> and the token columns.
/// A row whose answer cannot be parsed is marked with its error; the others go on.
/// </summary>
public sealed class UltraFeedbackStep : ModelTask
{
    public static readonly StepType Type = new(
        "ultrafeedback",
        ParametersWith("aspect", "shuffle", "structured_output", "rationale_max_length", PromptInput.Parameter),
        p => new UltraFeedbackStep(p),
        "rates each row's generations 1-5 with an LLM judge on an UltraFeedback aspect");

    private readonly UltraFeedbackAspect _aspect;
    private readonly bool _shuffle;
    private readonly JudgeOutputStyle _style;
    private readonly int _rationaleMaxLength;
    private readonly string _systemMessage;
    private readonly bool _messages;

    public UltraFeedbackStep(StepParameters parameters)
        : base(parameters)
    {
        var aspect = parameters.GetString("aspect") ?? UltraFeedbackAspect.OverallRating.Name;
        if (!UltraFeedbackAspect.TryParse(aspect, out _aspect))
        {
            throw parameters.Error("aspect", $"unknown aspect '{aspect}'; choose one of: {string.Join(", ", UltraFeedbackAspect.All.Select(a => a.Name))}");
        }

        _messages = PromptInput.ReadsMessages(parameters);
        InputColumns = [PromptInput.ColumnOf(_messages), "generations"];
        _shuffle = parameters.GetBoolean("shuffle", true);
        _style = parameters.GetBoolean("structured_output", true) ? JudgeOutputStyle.Json : JudgeOutputStyle.FreeText;
        _rationaleMaxLength = parameters.GetInt32("rationale_max_length", 160);
        if (_rationaleMaxLength is < 8 or > 4000)
        {
            throw parameters.Error("rationale_max_length", "'rationale_max_length' must be between 8 and 4000 characters");
        }

        _systemMessage = JudgePrompt.SystemMessage(_aspect, _style);
        OutputColumns = _aspect.HasTypes
            ? ["ratings", "rationales", "types", "judge_model", TokenColumns.Input(Name), TokenColumns.Output(Name)]
            : ["ratings", "rationales", "judge_model", TokenColumns.Input(Name), TokenColumns.Output(Name)];
    }

    public override IReadOnlyList<string> InputColumns { get; }

    public override IReadOnlyList<string> OutputColumns { get; }

    public UltraFeedbackAspect Aspect => _aspect;

    protected override async Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken)
    {
        var requests = new List<ModelRequest>();
        var orders = new Dictionary<Row, ResponseOrder>();
        foreach (var (row, instruction, responses) in JudgeInputs.ReadOrFail(rows, _messages, calls))
        {
            var order = _shuffle ? ResponseOrder.Shuffled(responses.Count, Generation.Seed, row.Id) : ResponseOrder.Identity(responses.Count);
            requests.Add(new ModelRequest(row, BuildMessages(instruction, order.ToShown(responses)), BuildOptions(row.Id, responses.Count)));
            orders[row] = order;
        }

        var replies = await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false);
        var judgeName = calls.ModelId;
        foreach (var reply in replies)
        {
            var (row, order) = (reply.Row, orders[reply.Row]);
            if (reply.Response is null)
            {
                calls.Fail(row, $"judge '{Model}' failed: {reply.Error}");
                continue;
            }

            var parsed = JudgeOutputParser.Parse(reply.Text, order.Count, _aspect);
            if (parsed.Verdict is null)
            {
                calls.Fail(row, $"unusable judge answer: {parsed.Error}");
                continue;
            }

            var verdict = order.ToOriginal(parsed.Verdict);
            row["ratings"] = verdict.Ratings.Select(v => (object?)(long)v).ToList();
            row["rationales"] = verdict.Rationales.Cast<object?>().ToList();
            if (_aspect.HasTypes)
            {
                row["types"] = verdict.Types!.Select(t => (object?)t.Select(v => (object?)(long)v).ToList()).ToList();
            }

            row["judge_model"] = judgeName;
        }
    }

    /// <summary>The judge conversation: the shared rubric (identical for every row, so its KV is cached) and the row.</summary>
    internal IReadOnlyList<ChatMessage> BuildMessages(JudgeInstruction instruction, IReadOnlyList<string> shownResponses) =>
    [
        new(ChatRole.System, _systemMessage),
        new(ChatRole.User, JudgePrompt.UserMessage(instruction, shownResponses)),
    ];

    internal ChatOptions BuildOptions(long rowId, int responses)
    {
        var options = Generation.ToChatOptions(rowId, 0);
        if (_style == JudgeOutputStyle.Json)
        {
            options.ResponseFormat = ChatResponseFormat.ForJsonSchema(JudgeSchema.For(_aspect, responses, _rationaleMaxLength), JudgeSchema.Name);
            options.MaxOutputTokens ??= JudgeSchema.MaxOutputTokens(_aspect, responses, _rationaleMaxLength);
        }
        else
        {
            options.MaxOutputTokens ??= 128 + responses * 96;
        }

        return options;
    }
}

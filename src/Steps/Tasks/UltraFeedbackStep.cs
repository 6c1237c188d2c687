using Distil.Engine;
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
public sealed class UltraFeedbackStep : IBatchStep
{
    public static readonly StepType Type = new(
        "ultrafeedback",
        ["model", "aspect", "generation", "shuffle", "structured_output", "rationale_max_length", "max_concurrency"],
        p => new UltraFeedbackStep(p),
        "rates each row's generations 1-5 with an LLM judge on an UltraFeedback aspect");

    private readonly string _model;
    private readonly UltraFeedbackAspect _aspect;
    private readonly GenerationSettings _generation;
    private readonly bool _shuffle;
    private readonly JudgeOutputStyle _style;
    private readonly int _rationaleMaxLength;
    private readonly int _maxConcurrency;
    private readonly string _systemMessage;

    public UltraFeedbackStep(StepParameters parameters)
    {
        Name = parameters.Name;
        _model = parameters.RequireString("model");
        var aspect = parameters.GetString("aspect") ?? UltraFeedbackAspect.OverallRating.Name;
        if (!UltraFeedbackAspect.TryParse(aspect, out _aspect))
        {
            throw parameters.Error("aspect", $"unknown aspect '{aspect}'; choose one of: {string.Join(", ", UltraFeedbackAspect.All.Select(a => a.Name))}");
        }

        _generation = GenerationSettings.From(parameters);
        _shuffle = parameters.GetBoolean("shuffle", true);
        _style = parameters.GetBoolean("structured_output", true) ? JudgeOutputStyle.Json : JudgeOutputStyle.FreeText;
        _rationaleMaxLength = parameters.GetInt32("rationale_max_length", 160);
        if (_rationaleMaxLength is < 8 or > 4000)
        {
            throw parameters.Error("rationale_max_length", "'rationale_max_length' must be between 8 and 4000 characters");
        }

        _maxConcurrency = parameters.GetInt32("max_concurrency", 16);
        if (_maxConcurrency < 1)
        {
            throw parameters.Error("max_concurrency", "'max_concurrency' must be at least 1");
        }

        _systemMessage = JudgePrompt.SystemMessage(_aspect, _style);
        OutputColumns = _aspect.HasTypes
            ? ["ratings", "rationales", "types", "judge_model", TokenColumns.Input(Name), TokenColumns.Output(Name)]
            : ["ratings", "rationales", "judge_model", TokenColumns.Input(Name), TokenColumns.Output(Name)];
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns { get; } = ["instruction", "generations"];

    public IReadOnlyList<string> OutputColumns { get; }

    public UltraFeedbackAspect Aspect => _aspect;

    public async ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var client = context.GetModel(_model);
        var judgeName = client.GetService<ChatClientMetadata>()?.DefaultModelId ?? _model;
        var output = rows.Select(r => r.Clone()).ToArray();
        var requests = new List<BatchChatRequest>();
        var pending = new List<(Row Row, ResponseOrder Order)>();
        foreach (var row in output)
        {
            if (row.HasError)
            {
                continue;
            }

            if (!TryReadInputs(row, out var instruction, out var responses, out var problem))
            {
                context.RecordRowError(row, $"{Name}: {problem}");
                continue;
            }

            var order = _shuffle ? ResponseOrder.Shuffled(responses.Count, _generation.Seed, row.Id) : ResponseOrder.Identity(responses.Count);
            requests.Add(new BatchChatRequest(BuildMessages(instruction, order.ToShown(responses)), BuildOptions(row.Id, responses.Count)));
            pending.Add((row, order));
        }

        if (requests.Count == 0)
        {
            return output;
        }

        var results = await ConcurrentBatchChatClient.For(client, _maxConcurrency).GetResponsesAsync(requests, cancellationToken).ConfigureAwait(false);
        for (var r = 0; r < results.Count; r++)
        {
            var (row, order) = pending[r];
            if (results[r].Response is not { } response)
            {
                context.RecordRowError(row, $"{Name}: judge '{_model}' failed: {results[r].Error}");
                continue;
            }

            var (input, generated) = TokenUsage.Of(response);
            context.AddTokens(input, generated);
            row[TokenColumns.Input(Name)] = input;
            row[TokenColumns.Output(Name)] = generated;
            var parsed = JudgeOutputParser.Parse(response.Text, order.Count, _aspect);
            if (parsed.Verdict is null)
            {
                context.RecordRowError(row, $"{Name}: unusable judge answer: {parsed.Error}");
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

        return output;
    }

    /// <summary>The judge conversation: the shared rubric (identical for every row, so its KV is cached) and the row.</summary>
    internal IReadOnlyList<ChatMessage> BuildMessages(string instruction, IReadOnlyList<string> shownResponses) =>
    [
        new(ChatRole.System, _systemMessage),
        new(ChatRole.User, JudgePrompt.UserMessage(instruction, shownResponses)),
    ];

    internal ChatOptions BuildOptions(long rowId, int responses)
    {
        var options = _generation.ToChatOptions(rowId, 0);
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

    private static bool TryReadInputs(Row row, out string instruction, out IReadOnlyList<string> responses, out string problem)
    {
        instruction = row.GetString("instruction") ?? string.Empty;
        responses = [];
        problem = string.Empty;
        if (string.IsNullOrWhiteSpace(instruction))
        {
            problem = "the column 'instruction' is missing or empty";
            return false;
        }

        if (row["generations"] is not IReadOnlyList<object?> list || list.Count == 0)
        {
            problem = "the column 'generations' is missing or not a list";
            return false;
        }

        if (list.Any(g => g is not string))
        {
            problem = "a response in 'generations' is missing (its generation failed?)";
            return false;
        }

        responses = list.Cast<string>().ToList();
        return true;
    }
}

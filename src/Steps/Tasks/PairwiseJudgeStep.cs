using Distil.Judge;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>pairwise_judge</c>: an A-vs-B verdict on a row's two <c>generations</c>, asked in both orders (0 as A, then
/// 1 as A). Only a position-consistent verdict counts: <c>pairwise_winner</c> is the index both orders named (null
/// for an inconsistent pair or an agreed tie) and <c>pairwise_consistent</c> says whether they agreed. The step
/// tallies rows judged and rows consistent, so the manifest and the dataset card show its agreement rate. With
/// <c>"ratings": true</c> it also writes <c>ratings</c> for preference_pairs: 1 for the consistent winner and 0 for the
/// other, 0 and 0 for an agreed tie (a tie, which preference_pairs drops), null and null for an inconsistent pair
/// (missing ratings, dropped too), so only position-consistent verdicts become pairs.
/// </summary>
public sealed class PairwiseJudgeStep : ModelTask
{
    /// <summary>Tally: rows that got a verdict in both orders.</summary>
    public const string Judged = "pairwise_judged";

    /// <summary>Tally: rows whose two verdicts named the same response (or both a tie).</summary>
    public const string Consistent = "pairwise_consistent";

    public static readonly StepType Type = new(
        "pairwise_judge",
        ParametersWith("allow_ties", "structured_output", "rationale_max_length", "ratings", PromptInput.Parameter),
        p => new PairwiseJudgeStep(p),
        "A-vs-B verdict on two generations, judged in both orders; keeps position-consistent verdicts");

    private readonly bool _allowTies;
    private readonly bool _json;
    private readonly int _rationaleMaxLength;
    private readonly bool _messages;
    private readonly bool _ratings;

    public PairwiseJudgeStep(StepParameters parameters)
        : base(parameters)
    {
        _messages = PromptInput.ReadsMessages(parameters);
        InputColumns = [PromptInput.ColumnOf(_messages), "generations"];
        _allowTies = parameters.GetBoolean("allow_ties", true);
        _json = parameters.GetBoolean("structured_output", true);
        _rationaleMaxLength = parameters.GetInt32("rationale_max_length", 300, 8, 8000);
        _ratings = parameters.GetBoolean("ratings", false);
    }

    public override IReadOnlyList<string> InputColumns { get; }

    public override IReadOnlyList<string> OutputColumns => _ratings
        ? ["pairwise_winner", "pairwise_consistent", "pairwise_rationales", "ratings", "judge_model", TokenColumns.Input(Name), TokenColumns.Output(Name)]
        : ["pairwise_winner", "pairwise_consistent", "pairwise_rationales", "judge_model", TokenColumns.Input(Name), TokenColumns.Output(Name)];

    protected override async Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken)
    {
        var requests = new List<ModelRequest>();
        foreach (var (row, instruction, responses) in JudgeInputs.ReadOrFail(rows, _messages, calls))
        {
            if (responses.Count != 2)
            {
                calls.Fail(row, $"'generations' has {responses.Count} responses; a pairwise judge compares exactly 2");
                continue;
            }

            // Request index 0: response 0 shown as A; index 1: swapped. Each has its own seed.
            requests.Add(new ModelRequest(row, PairwiseJudging.Messages(_allowTies, _json, instruction, responses[0], responses[1]), BuildOptions(row.Id, 0)));
            requests.Add(new ModelRequest(row, PairwiseJudging.Messages(_allowTies, _json, instruction, responses[1], responses[0]), BuildOptions(row.Id, 1)));
        }

        var replies = await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false);
        var judgeName = calls.ModelId;
        for (var i = 0; i < replies.Count; i += 2)
        {
            var row = replies[i].Row;
            var inOrder = Read(replies[i]);
            var swapped = Read(replies[i + 1]);
            if (inOrder.Pick is not { } first || swapped.Pick is not { } second)
            {
                calls.Fail(row, inOrder.Error is { } e ? $"order A=0: {e}" : $"order A=1: {swapped.Error}");
                continue;
            }

            var (consistent, winner) = PairwiseJudging.Reconcile(first, second);
            row["pairwise_winner"] = consistent && winner is { } w ? (long)w : null;
            row["pairwise_consistent"] = consistent;
            row["pairwise_rationales"] = new List<object?> { inOrder.Rationale, swapped.Rationale };
            row["judge_model"] = judgeName;
            if (_ratings)
            {
                row["ratings"] = Ratings(consistent, winner);
            }

            calls.Context.Tally(Judged);
            if (consistent)
            {
                calls.Context.Tally(Consistent);
            }
        }
    }

    /// <summary>The verdict as ratings of the two responses: winner above loser, equal for a tie, none when the orders disagreed.</summary>
    private static List<object?> Ratings(bool consistent, int? winner) => (consistent, winner) switch
    {
        (false, _) => [null, null],
        (true, null) => [0L, 0L],
        (true, { } w) => [w == 0 ? 1L : 0L, w == 1 ? 1L : 0L],
    };

    private PairwiseVerdict Read(ModelReply reply) =>
        reply.Response is null ? PairwiseVerdict.Fail($"judge '{Model}' failed: {reply.Error}") : PairwiseJudging.Parse(reply.Text, _allowTies);

    internal ChatOptions BuildOptions(long rowId, int index)
    {
        var options = Generation.ToChatOptions(rowId, index);
        if (_json)
        {
            options.ResponseFormat = ChatResponseFormat.ForJsonSchema(PairwiseJudging.Schema(_allowTies, _rationaleMaxLength), PairwiseJudging.SchemaName);
            options.MaxOutputTokens ??= PairwiseJudging.MaxOutputTokens(_rationaleMaxLength);
        }
        else
        {
            options.MaxOutputTokens ??= 64 + _rationaleMaxLength / 2;
        }

        return options;
    }
}

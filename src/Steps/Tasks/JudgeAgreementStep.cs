using Distil.Judge;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// <c>judge_agreement</c>: for rows rated by two or more judges (each judge's ratings in its own column, e.g.
/// <c>ultrafeedback</c> with <c>output_mappings</c> and <c>rubric_judge</c>), whether they name the same best
/// response. Writes the answer per row and tallies comparable rows and agreeing rows, which the manifest and the
/// dataset card report as the judges' agreement rate. Rows pass through unchanged otherwise.
/// </summary>
public sealed class JudgeAgreementStep : IBatchStep
{
    /// <summary>Tally: rows where every judge named a single best response.</summary>
    public const string Comparable = "judge_agreement_rows";

    /// <summary>Tally: comparable rows where the judges named the same best response.</summary>
    public const string SameBest = "judge_agreement_same_best";

    public static readonly StepType Type = new(
        "judge_agreement",
        ["ratings", "output_column"],
        p => new JudgeAgreementStep(p),
        "whether two or more judges' ratings of the same responses name the same best one; agreement rate in the manifest and card");

    private readonly IReadOnlyList<string> _ratingColumns;
    private readonly string _outputColumn;

    public JudgeAgreementStep(StepParameters parameters)
    {
        Name = parameters.Name;
        _ratingColumns = parameters.GetStringList("ratings") ?? throw parameters.Error("ratings", "step 'judge_agreement' needs 'ratings': the rating columns of two or more judges");
        if (_ratingColumns.Count < 2 || _ratingColumns.Distinct(StringComparer.Ordinal).Count() != _ratingColumns.Count)
        {
            throw parameters.Error("ratings", "'ratings' must name at least two different columns, one per judge");
        }

        _outputColumn = parameters.GetString("output_column") ?? "judges_agree";
        if (_outputColumn.Length == 0)
        {
            throw parameters.Error("output_column", "'output_column' must name a column");
        }

        OutputColumns = [_outputColumn];
    }

    public string Name { get; }

    public IReadOnlyList<string> RatingColumns => _ratingColumns;

    public IReadOnlyList<string> InputColumns => _ratingColumns;

    public IReadOnlyList<string> OutputColumns { get; }

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var output = rows.Select(r => r.Clone()).ToArray();
        foreach (var row in output.Where(r => !r.HasError))
        {
            var agree = JudgeAgreement.SameBest(_ratingColumns.Select(c => Ratings(row[c])).ToList());
            row[_outputColumn] = agree;
            if (agree is { } same)
            {
                context.Tally(Comparable);
                if (same)
                {
                    context.Tally(SameBest);
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(output);
    }

    private static IReadOnlyList<double?> Ratings(object? value) => value is IReadOnlyList<object?> list
        ? list.Select(v => v switch { long l => (double?)l, double d => d, _ => null }).ToList()
        : [];
}

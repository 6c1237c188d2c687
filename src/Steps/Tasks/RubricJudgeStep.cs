using System.Globalization;
using System.Text.Json;
using Distil.Judge;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>rubric_judge</c>: Prometheus-style absolute grading of each response in a row's <c>generations</c> against a
/// rubric written in the definition (criteria and a description per score), optionally with a reference answer from
/// a column. One request per response, feedback first and score last; with <c>structured_output</c> (default) the
/// answer is constrained to <c>{"feedback", "score"}</c> on the rubric's scale, so a local judge always parses.
/// Writes <c>ratings</c> and <c>rationales</c> like <c>ultrafeedback</c> (so <c>preference_pairs</c> reads them
/// unchanged), <c>judge_model</c> and the token columns; a row with any unusable grade is marked with its error.
/// </summary>
public sealed class RubricJudgeStep : ModelTask
{
    public static readonly StepType Type = new(
        "rubric_judge",
        ParametersWith("rubric", "reference_column", "structured_output", "feedback_max_length", PromptInput.Parameter),
        p => new RubricJudgeStep(p),
        "grades each of a row's generations on a custom rubric and score scale (Prometheus-style, optional reference answer)");

    private readonly JudgeOutputStyle _style;
    private readonly int _feedbackMaxLength;
    private readonly string? _referenceColumn;
    private readonly bool _messages;

    public RubricJudgeStep(StepParameters parameters)
        : base(parameters)
    {
        Rubric = ReadRubric(parameters);
        _style = parameters.GetBoolean("structured_output", true) ? JudgeOutputStyle.Json : JudgeOutputStyle.FreeText;
        _feedbackMaxLength = parameters.GetInt32("feedback_max_length", 400, 8, 8000);
        _referenceColumn = parameters.GetString("reference_column");
        if (_referenceColumn is { Length: 0 })
        {
            throw parameters.Error("reference_column", "'reference_column' must name a column");
        }

        _messages = PromptInput.ReadsMessages(parameters);
        var prompt = PromptInput.ColumnOf(_messages);
        InputColumns = _referenceColumn is null ? [prompt, "generations"] : [prompt, "generations", _referenceColumn];
    }

    public Rubric Rubric { get; }

    public override IReadOnlyList<string> InputColumns { get; }

    public override IReadOnlyList<string> OutputColumns => ["ratings", "rationales", "judge_model", TokenColumns.Input(Name), TokenColumns.Output(Name)];

    protected override async Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken)
    {
        var requests = new List<ModelRequest>();
        foreach (var (row, instruction, responses) in JudgeInputs.ReadOrFail(rows, _messages, calls))
        {
            var reference = _referenceColumn is null ? null : row.GetString(_referenceColumn);
            if (_referenceColumn is not null && string.IsNullOrWhiteSpace(reference))
            {
                calls.Fail(row, $"the reference column '{_referenceColumn}' is missing or empty");
                continue;
            }

            for (var i = 0; i < responses.Count; i++)
            {
                requests.Add(new ModelRequest(row, Rubric.Messages(_style, instruction, responses[i], reference), BuildOptions(row.Id, i)));
            }
        }

        var replies = await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false);
        var judgeName = calls.ModelId;
        foreach (var group in replies.GroupBy(r => r.Row, ReferenceEqualityComparer.Instance))
        {
            var row = (Row)group.Key!;
            var ratings = new List<object?>();
            var rationales = new List<object?>();
            string? failure = null;
            foreach (var (reply, index) in group.Select((r, i) => (r, i + 1)))
            {
                var grade = reply.Response is null ? RubricGrade.Fail($"judge '{Model}' failed: {reply.Error}") : Rubric.Parse(reply.Text);
                if (grade.Score is not { } score)
                {
                    failure ??= $"response {index.ToString(CultureInfo.InvariantCulture)}: {grade.Error}";
                    continue;
                }

                ratings.Add((long)score);
                rationales.Add(grade.Feedback);
            }

            if (failure is not null)
            {
                calls.Fail(row, failure);
                continue;
            }

            row["ratings"] = ratings;
            row["rationales"] = rationales;
            row["judge_model"] = judgeName;
        }
    }

    /// <summary>Response <paramref name="index"/>'s request: its own seed (the row id and the index), so each
    /// grade is reproducible whatever batch the row lands in.</summary>
    internal ChatOptions BuildOptions(long rowId, int index)
    {
        var options = Generation.ToChatOptions(rowId, index);
        if (_style == JudgeOutputStyle.Json)
        {
            options.ResponseFormat = ChatResponseFormat.ForJsonSchema(Rubric.Schema(_feedbackMaxLength), Rubric.SchemaName);
            options.MaxOutputTokens ??= Rubric.MaxOutputTokens(_feedbackMaxLength);
        }
        else
        {
            options.MaxOutputTokens ??= 64 + _feedbackMaxLength / 2;
        }

        return options;
    }

    /// <summary>
    /// The rubric from <c>{"criteria": "...", "scores": {"1": "...", "2": "...", ...}}</c>: at least two scores,
    /// whole numbers, consecutive, each described. Every problem names its JSON path.
    /// </summary>
    private static Rubric ReadRubric(StepParameters parameters)
    {
        if (parameters.Get("rubric") is not { ValueKind: JsonValueKind.Object } rubric)
        {
            throw parameters.Error("rubric", "step 'rubric_judge' needs 'rubric': {\"criteria\": \"...\", \"scores\": {\"1\": \"...\", \"2\": \"...\", ...}}");
        }

        foreach (var property in rubric.EnumerateObject())
        {
            if (property.Name is not ("criteria" or "scores"))
            {
                throw parameters.Error($"rubric.{property.Name}", $"'rubric' has no key '{property.Name}' (it takes 'criteria' and 'scores')");
            }
        }

        if (!rubric.TryGetProperty("criteria", out var criteria) || criteria.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(criteria.GetString()))
        {
            throw parameters.Error("rubric.criteria", "'rubric.criteria' must be a non-empty string: what the responses are graded on");
        }

        if (!rubric.TryGetProperty("scores", out var scores) || scores.ValueKind != JsonValueKind.Object)
        {
            throw parameters.Error("rubric.scores", "'rubric.scores' must be an object from each score to its description, e.g. {\"1\": \"...\", \"5\": \"...\"}");
        }

        var levels = new List<RubricLevel>();
        foreach (var level in scores.EnumerateObject())
        {
            var path = $"rubric.scores.{level.Name}";
            if (!int.TryParse(level.Name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var score) || score is < -1000 or > 1000)
            {
                throw parameters.Error(path, $"'{path}': the score '{level.Name}' is not a whole number (from -1000 to 1000)");
            }

            if (level.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(level.Value.GetString()))
            {
                throw parameters.Error(path, $"'{path}' must describe what a response needs for score {score}");
            }

            if (levels.Any(l => l.Score == score))
            {
                throw parameters.Error(path, $"'{path}': score {score} is given twice");
            }

            levels.Add(new RubricLevel(score, level.Value.GetString()!));
        }

        try
        {
            return new Rubric(criteria.GetString()!, levels);
        }
        catch (ArgumentException e)
        {
            // The scale's own rules (at least two scores, consecutive) live in Rubric; here they get their location.
            throw parameters.Error("rubric.scores", $"'rubric.scores' {e.Message}");
        }
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace Distil.Judge;

/// <summary>One score of a rubric's scale and what a response must be like to earn it.</summary>
public sealed record RubricLevel(int Score, string Description);

/// <summary>
/// A user-written grading rubric (Prometheus-style absolute grading, Kim et al. 2023): the criteria and, for each
/// whole score of a consecutive scale, its description. The judge writes feedback first and the score last, so the
/// score follows from the reasoning rather than the reverse.
/// </summary>
public sealed partial class Rubric
{
    public Rubric(string criteria, IReadOnlyList<RubricLevel> levels)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(criteria);
        if (levels.Count < 2)
        {
            throw new ArgumentException("needs at least two scores");
        }

        Criteria = criteria.Trim();
        Levels = levels.OrderBy(l => l.Score).ToArray();
        for (var i = 1; i < Levels.Count; i++)
        {
            if (Levels[i].Score != Levels[i - 1].Score + 1)
            {
                throw new ArgumentException($"must be consecutive whole numbers: {Levels[i - 1].Score} is followed by {Levels[i].Score} (missing {Levels[i - 1].Score + 1})");
            }
        }
    }

    public string Criteria { get; }

    public IReadOnlyList<RubricLevel> Levels { get; }

    public int Min => Levels[0].Score;

    public int Max => Levels[^1].Score;

    public const string SchemaName = "rubric_grade";

    /// <summary>The system message: the same for every request of a run, so its KV is cached once.</summary>
    public string SystemMessage(JudgeOutputStyle style)
    {
        var text = new StringBuilder();
        text.Append("You are a fair judge assistant. You assess the quality of a response strictly by the score rubric ")
            .Append("below, not by general standards, and you give feedback before your score.\n\n")
            .Append("## Score rubric\n").Append(Criteria).Append('\n');
        foreach (var level in Levels)
        {
            text.Append("Score ").Append(level.Score.ToString(CultureInfo.InvariantCulture)).Append(": ").Append(level.Description.Trim()).Append('\n');
        }

        text.Append("\nWrite feedback that assesses the response against the rubric (where a reference answer is given, ")
            .Append("compare with it; a perfect response would earn the highest score), then give an integer score from ")
            .Append(Min.ToString(CultureInfo.InvariantCulture)).Append(" to ").Append(Max.ToString(CultureInfo.InvariantCulture)).Append(".\n\n");
        text.Append(style == JudgeOutputStyle.Json
            ? "Answer with one JSON object and nothing else: {\"feedback\": \"...\", \"score\": <integer>}\n"
            : "Answer in this form and nothing else:\nFeedback: <your feedback> [RESULT] <integer>\n");
        return text.ToString();
    }

    /// <summary>The row part of one grading request.</summary>
    public static string UserMessage(JudgeInstruction instruction, string response, string? reference)
    {
        var text = new StringBuilder();
        instruction.AppendTo(text);
        text.Append("## Response to evaluate\n").Append(response.Trim()).Append('\n');
        if (!string.IsNullOrWhiteSpace(reference))
        {
            text.Append("\n## Reference answer (would earn the highest score)\n").Append(reference.Trim()).Append('\n');
        }

        return text.ToString();
    }

    public IReadOnlyList<ChatMessage> Messages(JudgeOutputStyle style, JudgeInstruction instruction, string response, string? reference) =>
    [
        new(ChatRole.System, SystemMessage(style)),
        new(ChatRole.User, UserMessage(instruction, response, reference)),
    ];

    /// <summary>Feedback (bounded) then one integer score on the rubric's scale; the property order makes a
    /// constrained local judge write the feedback first.</summary>
    public JsonElement Schema(int feedbackMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(feedbackMaxLength);
        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["feedback"] = new JsonObject { ["type"] = "string", ["minLength"] = 1, ["maxLength"] = feedbackMaxLength },
                ["score"] = new JsonObject { ["type"] = "integer", ["minimum"] = Min, ["maximum"] = Max },
            },
            ["required"] = new JsonArray("feedback", "score"),
            ["additionalProperties"] = false,
        };
        return JsonSerializer.SerializeToElement(schema);
    }

    /// <summary>Room for the whole answer: two tokens per feedback character plus the structure (see <see cref="JudgeSchema.MaxOutputTokens"/>).</summary>
    public static int MaxOutputTokens(int feedbackMaxLength) => 32 + feedbackMaxLength * 2;

    /// <summary>
    /// Reads a grade: the JSON form (in a code fence or prose), else Prometheus' <c>Feedback: … [RESULT] n</c>,
    /// else a last <c>Score: n</c> line. A score off the scale or not a whole number is an error, never clamped.
    /// </summary>
    public RubricGrade Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return RubricGrade.Fail("the judge returned an empty answer");
        }

        var start = text.IndexOf('{');
        var end = text.LastIndexOf('}');
        if (start >= 0 && end > start && TryParseJson(text[start..(end + 1)], out var fromJson))
        {
            return fromJson;
        }

        var result = ResultMarker().Matches(text);
        var match = result.Count > 0 ? result[^1] : ScoreLine().Matches(text) is { Count: > 0 } lines ? lines[^1] : null;
        if (match is null)
        {
            return RubricGrade.Fail(start >= 0
                ? "the judge's JSON does not parse or has no \"score\", and there is no '[RESULT] n' either"
                : "the judge's answer has neither a JSON object, '[RESULT] n' nor a 'Score: n' line");
        }

        var feedback = text[..match.Index].Trim();
        var feedbackLabel = FeedbackLabel().Match(feedback);
        if (feedbackLabel.Success)
        {
            feedback = feedback[(feedbackLabel.Index + feedbackLabel.Length)..].Trim();
        }

        return Checked(match.Groups["score"].Value, feedback);
    }

    private bool TryParseJson(string json, out RubricGrade grade)
    {
        grade = RubricGrade.Fail("unreachable");
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("score", out var score))
            {
                return false;
            }

            var feedback = root.TryGetProperty("feedback", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()!.Trim() : string.Empty;
            grade = score.ValueKind switch
            {
                JsonValueKind.Number or JsonValueKind.String => Checked(score.ValueKind == JsonValueKind.String ? score.GetString()! : score.GetRawText(), feedback),
                _ => RubricGrade.Fail($"the score is not a number: {score.GetRawText()}"),
            };
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private RubricGrade Checked(string value, string feedback)
    {
        if (!double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var score))
        {
            return RubricGrade.Fail($"the score '{value}' is not a number");
        }

        if (score != Math.Floor(score))
        {
            return RubricGrade.Fail($"the score {score.ToString(CultureInfo.InvariantCulture)} is not a whole number");
        }

        return score < Min || score > Max
            ? RubricGrade.Fail($"the score {score.ToString(CultureInfo.InvariantCulture)} is outside {Min}..{Max}")
            : RubricGrade.Ok((int)score, feedback);
    }

    [GeneratedRegex(@"\[RESULT\]\s*\(?(?<score>-?[0-9]+(?:\.[0-9]+)?)", RegexOptions.IgnoreCase)]
    private static partial Regex ResultMarker();

    [GeneratedRegex(@"^[ \t*#\-]*Score[ \t*]*:[ \t*]*(?<score>-?[0-9]+(?:\.[0-9]+)?)", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex ScoreLine();

    [GeneratedRegex(@"^[ \t*#\-]*Feedback[ \t*]*:", RegexOptions.IgnoreCase)]
    private static partial Regex FeedbackLabel();
}

/// <summary>A rubric grade of one response, or why the judge's answer gave none.</summary>
public sealed record RubricGrade(int? Score, string Feedback, string? Error)
{
    public static RubricGrade Ok(int score, string feedback) => new(score, feedback, null);

    public static RubricGrade Fail(string error) => new(null, string.Empty, error);
}

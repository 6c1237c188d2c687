namespace Distil.Judge;

/// <summary>
/// A judge's ratings of a row's N responses: exactly one rating (1–5) and one rationale per response, and for
/// helpfulness/truthfulness the numbers of the types that apply. Lists are index-aligned with the responses.
/// </summary>
public sealed record JudgeVerdict(
    IReadOnlyList<int> Ratings,
    IReadOnlyList<string> Rationales,
    IReadOnlyList<IReadOnlyList<int>>? Types = null);

/// <summary>The parser's answer: a verdict, or why the judge's text could not be turned into one.</summary>
public sealed record JudgeParseResult(JudgeVerdict? Verdict, string? Error)
{
    public bool Success => Verdict is not null;

    public static JudgeParseResult Ok(JudgeVerdict verdict) => new(verdict, null);

    public static JudgeParseResult Fail(string error) => new(null, error);
}

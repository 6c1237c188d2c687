using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distil.Judge;

/// <summary>
/// Turns a judge's text into a <see cref="JudgeVerdict"/> for N responses. Accepts the JSON form (possibly inside
/// a code fence or surrounded by prose) and the classic free-text form (<c>#### Output for Text k</c> sections with
/// <c>Rating:</c> and <c>Rationale:</c> lines). Anything but exactly N ratings in 1..5 is an error: a verdict is
/// never padded, truncated or shifted, because a rating attached to the wrong response poisons a preference pair.
/// </summary>
public static partial class JudgeOutputParser
{
    public static JudgeParseResult Parse(string? text, int responses, UltraFeedbackAspect aspect)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return JudgeParseResult.Fail("the judge returned an empty answer");
        }

        if (ExtractJsonObject(text) is { } json)
        {
            var fromJson = ParseJson(json, responses, aspect);
            if (fromJson.Success || !SectionHeading().IsMatch(text) && !RatingLine().IsMatch(text))
            {
                return fromJson;
            }
        }

        if (!SectionHeading().IsMatch(text) && !RatingLine().IsMatch(text) && text.Contains('{', StringComparison.Ordinal))
        {
            return JudgeParseResult.Fail("the judge's JSON does not parse: it is incomplete (cut off?)");
        }

        return ParseFreeText(text, responses, aspect);
    }

    private static JudgeParseResult ParseJson(string json, int n, UltraFeedbackAspect aspect)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            return JudgeParseResult.Fail($"the judge's JSON does not parse: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (!root.TryGetProperty("ratings", out var ratingsElement) || ratingsElement.ValueKind != JsonValueKind.Array)
            {
                return JudgeParseResult.Fail("the judge's JSON has no \"ratings\" list");
            }

            var ratings = new List<int>();
            foreach (var item in ratingsElement.EnumerateArray())
            {
                if (!TryReadRating(item, out var rating, out var problem))
                {
                    return JudgeParseResult.Fail($"rating {ratings.Count + 1} {problem}");
                }

                ratings.Add(rating);
            }

            if (ratings.Count != n)
            {
                return JudgeParseResult.Fail($"expected {n} ratings, the judge gave {ratings.Count}");
            }

            var rationales = new string[n];
            Array.Fill(rationales, string.Empty);
            if (root.TryGetProperty("rationales", out var rationalesElement) && rationalesElement.ValueKind != JsonValueKind.Null)
            {
                if (rationalesElement.ValueKind != JsonValueKind.Array || rationalesElement.GetArrayLength() != n)
                {
                    return JudgeParseResult.Fail($"expected {n} rationales, the judge gave {(rationalesElement.ValueKind == JsonValueKind.Array ? rationalesElement.GetArrayLength() : 0)}");
                }

                var i = 0;
                foreach (var item in rationalesElement.EnumerateArray())
                {
                    rationales[i++] = item.ValueKind == JsonValueKind.String ? item.GetString()!.Trim() : item.GetRawText();
                }
            }

            IReadOnlyList<IReadOnlyList<int>>? types = null;
            if (aspect.HasTypes)
            {
                var typeLists = Enumerable.Range(0, n).Select(_ => (IReadOnlyList<int>)[]).ToArray();
                if (root.TryGetProperty("types", out var typesElement) && typesElement.ValueKind == JsonValueKind.Array)
                {
                    if (typesElement.GetArrayLength() != n)
                    {
                        return JudgeParseResult.Fail($"expected {n} type lists, the judge gave {typesElement.GetArrayLength()}");
                    }

                    var i = 0;
                    foreach (var item in typesElement.EnumerateArray())
                    {
                        typeLists[i++] = ReadTypes(item, aspect.Types!.Count);
                    }
                }

                types = typeLists;
            }

            return JudgeParseResult.Ok(new JudgeVerdict(ratings, rationales, types));
        }
    }

    private static JudgeParseResult ParseFreeText(string text, int n, UltraFeedbackAspect aspect)
    {
        var headings = SectionHeading().Matches(text);
        var sections = new List<(int Number, string Body)>();
        if (headings.Count > 0)
        {
            for (var i = 0; i < headings.Count; i++)
            {
                var start = headings[i].Index + headings[i].Length;
                var end = i + 1 < headings.Count ? headings[i + 1].Index : text.Length;
                sections.Add((int.Parse(headings[i].Groups["n"].Value, CultureInfo.InvariantCulture), text[start..end]));
            }
        }
        else
        {
            // No headings: one section per "Rating:" line, each with the lines around it.
            var ratingLines = RatingLine().Matches(text);
            var previousEnd = 0;
            for (var i = 0; i < ratingLines.Count; i++)
            {
                var end = i + 1 < ratingLines.Count ? FindSectionEnd(text, ratingLines[i + 1].Index) : text.Length;
                sections.Add((i + 1, text[previousEnd..end]));
                previousEnd = end;
            }
        }

        if (sections.Count == 0)
        {
            return JudgeParseResult.Fail("the judge's answer has neither a JSON object nor 'Rating:' lines");
        }

        if (sections.Count != n)
        {
            return JudgeParseResult.Fail($"expected {n} ratings, the judge gave {sections.Count}");
        }

        var ratings = new int[n];
        var rationales = new string[n];
        var types = new IReadOnlyList<int>[n];
        for (var i = 0; i < n; i++)
        {
            var (number, body) = sections[i];
            if (number != i + 1)
            {
                return JudgeParseResult.Fail($"expected the section for Text {i + 1}, found Text {number}");
            }

            var rating = RatingLine().Match(body);
            if (!rating.Success)
            {
                return JudgeParseResult.Fail($"Text {i + 1} has no 'Rating:' line");
            }

            var value = rating.Groups["value"].Value.Trim();
            var digits = LeadingInteger().Match(value);
            if (!digits.Success || !int.TryParse(digits.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var score))
            {
                return JudgeParseResult.Fail($"Text {i + 1}: the rating '{Shorten(value)}' is not a number");
            }

            if (score is < UltraFeedbackAspect.MinRating or > UltraFeedbackAspect.MaxRating)
            {
                return JudgeParseResult.Fail($"Text {i + 1}: the rating {score} is outside 1..5");
            }

            ratings[i] = score;
            var afterRating = body[(rating.Index + rating.Length)..];
            var rationale = RationaleLine().Match(afterRating);
            if (!rationale.Success)
            {
                rationale = RationaleLine().Match(body);
            }

            rationales[i] = rationale.Success ? rationale.Groups["value"].Value.Trim() : string.Empty;
            var type = TypeLine().Match(body);
            types[i] = type.Success ? ReadTypeNumbers(type.Groups["value"].Value, aspect.Types?.Count ?? 0) : [];
        }

        return JudgeParseResult.Ok(new JudgeVerdict(ratings, rationales, aspect.HasTypes ? types : null));
    }

    private static int FindSectionEnd(string text, int nextRatingIndex)
    {
        // A section ends before the lines that lead into the next rating (a "Type:" line, say), at a blank line when there is one.
        var blank = text.LastIndexOf("\n\n", nextRatingIndex, StringComparison.Ordinal);
        return blank > 0 ? blank : text.LastIndexOf('\n', Math.Max(0, nextRatingIndex - 1)) + 1;
    }

    private static bool TryReadRating(JsonElement item, out int rating, out string problem)
    {
        rating = 0;
        problem = string.Empty;
        double value;
        if (item.ValueKind == JsonValueKind.Number)
        {
            value = item.GetDouble();
        }
        else if (item.ValueKind == JsonValueKind.String && double.TryParse(item.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
        {
            value = parsed;
        }
        else
        {
            problem = $"is not a number: {Shorten(item.GetRawText())}";
            return false;
        }

        if (value != Math.Floor(value))
        {
            problem = $"is not an integer: {value.ToString(CultureInfo.InvariantCulture)}";
            return false;
        }

        if (value is < UltraFeedbackAspect.MinRating or > UltraFeedbackAspect.MaxRating)
        {
            problem = $"is outside 1..5: {value.ToString(CultureInfo.InvariantCulture)}";
            return false;
        }

        rating = (int)value;
        return true;
    }

    private static IReadOnlyList<int> ReadTypes(JsonElement item, int typeCount) => item.ValueKind switch
    {
        JsonValueKind.Array => item.EnumerateArray()
            .Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var t) ? t : 0)
            .Where(t => t >= 1 && t <= typeCount)
            .Distinct()
            .ToArray(),
        JsonValueKind.String => ReadTypeNumbers(item.GetString()!, typeCount),
        JsonValueKind.Number when item.TryGetInt32(out var t) && t >= 1 && t <= typeCount => [t],
        _ => [],
    };

    private static IReadOnlyList<int> ReadTypeNumbers(string value, int typeCount) =>
        Number().Matches(value)
            .Select(m => int.Parse(m.Value, CultureInfo.InvariantCulture))
            .Where(t => t >= 1 && t <= typeCount)
            .Distinct()
            .ToArray();

    /// <summary>The outermost {...} of the text, skipping a code fence or prose around it.</summary>
    private static string? ExtractJsonObject(string text)
    {
        var start = text.IndexOf('{');
        var end = text.LastIndexOf('}');
        return start >= 0 && end > start ? text[start..(end + 1)] : null;
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";

    [GeneratedRegex(@"^[ \t#*]*Output\s+for\s+Text\s+(?<n>\d+)[^\n]*$", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex SectionHeading();

    [GeneratedRegex(@"^[ \t*\-]*Rating[ \t*]*:[ \t*]*(?<value>[^\n]*)$", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex RatingLine();

    [GeneratedRegex(@"^[ \t*\-]*Rationale[ \t*]*:[ \t*]*(?<value>[^\n]*)$", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex RationaleLine();

    [GeneratedRegex(@"^[ \t*\-]*Types?[ \t*]*:[ \t*]*(?<value>[^\n]*)$", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"^\[?\s*(\d+)(?![\d.,]\d)")]
    private static partial Regex LeadingInteger();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Number();
}

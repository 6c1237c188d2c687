using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace Distil.Judge;

/// <summary>What a pairwise judge said about the two responses as shown: the first (A), the second (B), or neither.</summary>
public enum PairwisePick
{
    A,
    B,
    Tie,
}

/// <summary>One pairwise verdict, or why the judge's answer gave none.</summary>
public sealed record PairwiseVerdict(PairwisePick? Pick, string Rationale, string? Error)
{
    public static PairwiseVerdict Ok(PairwisePick pick, string rationale) => new(pick, rationale, null);

    public static PairwiseVerdict Fail(string error) => new(null, string.Empty, error);
}

/// <summary>
/// The A-vs-B comparison (MT-Bench / AlpacaEval style): prompt, JSON schema and a robust reader of the answer, and
/// the position check. Judges favour a position, so each pair is judged in both orders and a verdict only counts
/// when it names the same response both times (<see cref="Reconcile"/>).
/// </summary>
public static partial class PairwiseJudging
{
    public const string SchemaName = "pairwise_verdict";

    public static string SystemMessage(bool allowTies, bool json)
    {
        var text = new StringBuilder()
            .Append("You are a careful, impartial judge. Compare two responses, A and B, to the same instruction and decide ")
            .Append("which one follows the instruction better: more helpful, correct, relevant and clear. The order in which ")
            .Append("the responses are shown says nothing about their quality, and length alone is not a virtue.")
            .Append(allowTies ? " Answer \"tie\" only when neither is better.\n\n" : " You must pick one.\n\n");
        var choices = allowTies ? "\"A\", \"B\" or \"tie\"" : "\"A\" or \"B\"";
        text.Append(json
            ? $"Answer with one JSON object and nothing else, the reasoning first: {{\"rationale\": \"...\", \"winner\": {choices}}}\n"
            : $"Give a short explanation, then the verdict on its own last line: [[A]] if A is better, [[B]] if B is better{(allowTies ? ", [[C]] for a tie" : string.Empty)}.\n");
        return text.ToString();
    }

    public static string UserMessage(JudgeInstruction instruction, string a, string b)
    {
        var text = new StringBuilder();
        instruction.AppendTo(text);
        return text
            .Append("## Response A\n").Append(a.Trim()).Append("\n\n")
            .Append("## Response B\n").Append(b.Trim()).Append('\n')
            .ToString();
    }

    public static IReadOnlyList<ChatMessage> Messages(bool allowTies, bool json, JudgeInstruction instruction, string a, string b) =>
    [
        new(ChatRole.System, SystemMessage(allowTies, json)),
        new(ChatRole.User, UserMessage(instruction, a, b)),
    ];

    /// <summary>Rationale first (bounded), then the winner from a closed list.</summary>
    public static JsonElement Schema(bool allowTies, int rationaleMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rationaleMaxLength);
        var winners = allowTies ? new JsonArray("A", "B", "tie") : new JsonArray("A", "B");
        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["rationale"] = new JsonObject { ["type"] = "string", ["minLength"] = 1, ["maxLength"] = rationaleMaxLength },
                ["winner"] = new JsonObject { ["type"] = "string", ["enum"] = winners },
            },
            ["required"] = new JsonArray("rationale", "winner"),
            ["additionalProperties"] = false,
        };
        return JsonSerializer.SerializeToElement(schema);
    }

    public static int MaxOutputTokens(int rationaleMaxLength) => 32 + rationaleMaxLength * 2;

    /// <summary>
    /// Reads a verdict: JSON <c>{"winner": …}</c> (in a fence or prose too), else the last <c>[[A]]</c>/<c>[[B]]</c>/<c>[[C]]</c>
    /// marker, else a last <c>Winner: …</c> line. A tie where ties are not allowed is an error.
    /// </summary>
    public static PairwiseVerdict Parse(string? text, bool allowTies)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return PairwiseVerdict.Fail("the judge returned an empty answer");
        }

        var verdict = FromJson(text) ?? FromMarker(text);
        if (verdict is null)
        {
            return PairwiseVerdict.Fail("the judge's answer names no winner (no JSON \"winner\", no [[A]]/[[B]] and no 'Winner:' line)");
        }

        return verdict.Pick == PairwisePick.Tie && !allowTies ? PairwiseVerdict.Fail("the judge answered a tie, and ties are not allowed") : verdict;
    }

    /// <summary>
    /// The outcome of the two orders, in terms of the original responses: order 0 shows (0, 1) as (A, B), order 1
    /// shows (1, 0). Returns whether both verdicts agree and, if they agree on a response, its index.
    /// </summary>
    public static (bool Consistent, int? Winner) Reconcile(PairwisePick inOrder, PairwisePick swapped)
    {
        var first = Original(inOrder, swappedOrder: false);
        var second = Original(swapped, swappedOrder: true);
        return first == second ? (true, first) : (false, null);
    }

    /// <summary>The original index a pick names (null for a tie).</summary>
    public static int? Original(PairwisePick pick, bool swappedOrder) => pick switch
    {
        PairwisePick.A => swappedOrder ? 1 : 0,
        PairwisePick.B => swappedOrder ? 0 : 1,
        _ => null,
    };

    private static PairwiseVerdict? FromJson(string text)
    {
        var start = text.IndexOf('{');
        var end = text.LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text[start..(end + 1)], new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("winner", out var winner) || winner.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            var rationale = root.TryGetProperty("rationale", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!.Trim() : string.Empty;
            return PickOf(winner.GetString()!) is { } pick
                ? PairwiseVerdict.Ok(pick, rationale)
                : PairwiseVerdict.Fail($"the winner '{winner.GetString()}' is not A, B or tie");
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static PairwiseVerdict? FromMarker(string text)
    {
        var markers = Marker().Matches(text);
        var match = markers.Count > 0 ? markers[^1] : WinnerLine().Matches(text) is { Count: > 0 } lines ? lines[^1] : null;
        if (match is null || PickOf(match.Groups["pick"].Value) is not { } pick)
        {
            return null;
        }

        return PairwiseVerdict.Ok(pick, text[..match.Index].Trim());
    }

    private static PairwisePick? PickOf(string value) => value.Trim().Trim('"', '\'', '.', '*').ToUpperInvariant() switch
    {
        "A" or "RESPONSE A" => PairwisePick.A,
        "B" or "RESPONSE B" => PairwisePick.B,
        "C" or "TIE" => PairwisePick.Tie,
        _ => null,
    };

    [GeneratedRegex(@"\[\[(?<pick>[ABC])\]\]", RegexOptions.IgnoreCase)]
    private static partial Regex Marker();

    [GeneratedRegex(@"^[ \t*#\-]*(?:Winner|Verdict)[ \t*]*:[ \t*]*(?<pick>(?:Response\s+)?[AB]\b|tie\b)", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex WinnerLine();
}

using System.Text.RegularExpressions;

namespace Distil.Steps;

/// <summary>
/// Reads the instructions a model listed: numbered (<c>1.</c>, <c>2)</c>, <c>#3:</c>), bulleted or one per line. When
/// any line is numbered only numbered items count, and the lines under an item continue it, so a preamble ("Here are
/// five new tasks:") or a closing remark after a blank line is not taken for an instruction; otherwise every line is one. Empty items,
/// items equal to an excluded text (the seed) and repeats (ignoring case and spacing) are dropped.
/// </summary>
public static partial class InstructionList
{
    public static IReadOnlyList<string> Parse(string text, IEnumerable<string> exclude)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var numbered = lines.Any(l => Numbered().IsMatch(l));
        var items = new List<string>();
        var open = false; // a numbered item that the next non-blank line continues
        foreach (var line in lines)
        {
            if (Numbered().Match(line) is { Success: true } item)
            {
                items.Add(item.Groups["text"].Value);
                open = true;
            }
            else if (!numbered)
            {
                items.Add(Bullet().Replace(line, string.Empty));
            }
            else if (line.Trim().Length == 0)
            {
                open = false;
            }
            else if (open)
            {
                items[^1] += "\n" + line.Trim();
            }
        }

        var seen = new HashSet<string>(exclude.Select(Normalize), StringComparer.Ordinal);
        return items.Select(i => i.Trim()).Where(i => i.Length > 0 && seen.Add(Normalize(i))).ToList();
    }

    private static string Normalize(string text) => Spaces().Replace(text.Trim(), " ").ToLowerInvariant();

    [GeneratedRegex(@"^\s*(?:#\s*)?(?:(?:instruction|task|question|prompt)\s*)?\d{1,3}\s*[\.\):\-]\s*(?<text>.*)$", RegexOptions.IgnoreCase)]
    private static partial Regex Numbered();

    [GeneratedRegex(@"^\s*[-*•]\s+")]
    private static partial Regex Bullet();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}

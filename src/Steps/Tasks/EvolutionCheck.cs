using System.Text.RegularExpressions;

namespace Distil.Steps;

/// <summary>
/// The elimination of failed evolutions (WizardLM's rules, without the ones that need a second model): an evolved
/// prompt is dropped when it is empty, copies the prompt it came from, leaks the request's labels
/// (<c>#Rewritten Prompt#</c>, "given prompt"…), or is shorter than <c>min_length</c> characters.
/// </summary>
public static partial class EvolutionCheck
{
    public const string Kept = "kept";
    public const string Empty = "empty";
    public const string Copy = "copy";
    public const string Leak = "leak";
    public const string TooShort = "too_short";
    public const string ModelError = "model_error";

    /// <summary><see cref="Kept"/>, or the reason the evolution is eliminated.</summary>
    public static string Judge(string evolved, string previous, int minLength)
    {
        var text = evolved.Trim();
        if (text.Length == 0)
        {
            return Empty;
        }

        if (Normalize(text) == Normalize(previous))
        {
            return Copy;
        }

        if (Label().IsMatch(text))
        {
            return Leak;
        }

        return text.Length < minLength ? TooShort : Kept;
    }

    private static string Normalize(string text) => Spaces().Replace(text.Trim(), " ").ToLowerInvariant();

    [GeneratedRegex(@"#\s*(given|rewritten|created)\s+prompt\s*#|\b(given|rewritten|created)\s+prompt\b", RegexOptions.IgnoreCase)]
    private static partial Regex Label();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}

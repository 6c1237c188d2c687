using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Distil.Engine.Text.Tokenizers;

/// <summary>What a pre-tokenizer does with the parts of a piece its pattern matched (Hugging Face's SplitDelimiterBehavior).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>
/// A piece of text on its way to the model. <see cref="AtStart"/> marks a piece that begins the original input,
/// which Metaspace's <c>prepend_scheme: first</c> needs.
/// </summary>
internal readonly record struct Piece(string Text, bool AtStart);

/// <summary>What a pre-tokenizer splits on: a regex, a literal string or a character class.</summary>
internal abstract class SplitPattern
{
    /// <summary>The matches in <paramref name="text"/> as (start, end) char offsets, left to right, not overlapping.</summary>
    public abstract IEnumerable<(int Start, int End)> Matches(string text);

    /// <summary>Splits a piece the way Hugging Face tokenizers' NormalizedString.split does, dropping empty parts.</summary>
    public void Split(Piece piece, SplitBehavior behavior, bool invert, List<Piece> output)
    {
        var text = piece.Text;
        // The whole text as alternating (range, is-match) parts.
        var parts = new List<(int Start, int End, bool Match)>();
        var previous = 0;
        foreach (var (start, end) in Matches(text))
        {
            if (start > previous)
            {
                parts.Add((previous, start, invert));
            }
            parts.Add((start, end, !invert));
            previous = end;
        }
        if (previous < text.Length)
        {
            parts.Add((previous, text.Length, invert));
        }
        var kept = Apply(parts, behavior);
        foreach (var (start, end) in kept)
        {
            if (end > start)
            {
                output.Add(new Piece(text[start..end], piece.AtStart && start == 0));
            }
        }
    }

    private static List<(int Start, int End)> Apply(List<(int Start, int End, bool Match)> parts, SplitBehavior behavior)
    {
        var result = new List<(int Start, int End)>(parts.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                result.AddRange(parts.Select(p => (p.Start, p.End)));
                break;
            case SplitBehavior.Removed:
                result.AddRange(parts.Where(p => !p.Match).Select(p => (p.Start, p.End)));
                break;
            case SplitBehavior.Contiguous:
            {
                var previousMatch = false;
                foreach (var part in parts)
                {
                    if (part.Match == previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, part.End);
                    }
                    else
                    {
                        result.Add((part.Start, part.End));
                    }
                    previousMatch = part.Match;
                }
                break;
            }
            case SplitBehavior.MergedWithPrevious:
            {
                var previousMatch = false;
                foreach (var part in parts)
                {
                    if (part.Match && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, part.End);
                    }
                    else
                    {
                        result.Add((part.Start, part.End));
                    }
                    previousMatch = part.Match;
                }
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                var previousMatch = false;
                for (var i = parts.Count - 1; i >= 0; i--)
                {
                    var part = parts[i];
                    if (part.Match && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (part.Start, result[^1].End);
                    }
                    else
                    {
                        result.Add((part.Start, part.End));
                    }
                    previousMatch = part.Match;
                }
                result.Reverse();
                break;
            }
        }
        return result;
    }

    public static SplitBehavior ParseBehavior(JsonComponent component, string name, SplitBehavior fallback)
    {
        if (!component.Has(name))
        {
            return fallback;
        }
        return component.String(name) switch
        {
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            var other => throw component.Child(name).Fail($"unknown behavior \"{other}\""),
        };
    }

    /// <summary>A <c>{"String": …}</c> or <c>{"Regex": …}</c> pattern object.</summary>
    public static SplitPattern Parse(JsonComponent pattern)
    {
        if (pattern.Has("String"))
        {
            return new LiteralPattern(pattern.String("String"));
        }
        if (pattern.Has("Regex"))
        {
            return new CodePointRegex(pattern.String("Regex"), pattern.Child("Regex"));
        }
        throw pattern.Fail("must be {\"String\": …} or {\"Regex\": …}");
    }
}

internal sealed class LiteralPattern(string literal) : SplitPattern
{
    public string Literal { get; } = literal;

    public override IEnumerable<(int Start, int End)> Matches(string text)
    {
        if (Literal.Length == 0)
        {
            yield break;
        }
        var at = 0;
        while ((at = text.IndexOf(Literal, at, StringComparison.Ordinal)) >= 0)
        {
            yield return (at, at + Literal.Length);
            at += Literal.Length;
        }
    }
}

/// <summary>Every character for which a predicate holds is a match of its own (Hugging Face's <c>Fn(char) -> bool</c> patterns).</summary>
internal sealed class CharClassPattern(Func<int, bool> predicate) : SplitPattern
{
    public override IEnumerable<(int Start, int End)> Matches(string text)
    {
        for (var i = 0; i < text.Length;)
        {
            var rune = Rune.GetRuneAt(text, i);
            if (predicate(rune.Value))
            {
                yield return (i, i + rune.Utf16SequenceLength);
            }
            i += rune.Utf16SequenceLength;
        }
    }
}

/// <summary>
/// A tokenizer.json regex (Oniguruma syntax, which .NET reads for the patterns tokenizers use) matched per code point.
/// .NET regexes see UTF-16 units, so a letter outside the BMP (𠀀, 𝐀) would not be <c>\p{L}</c>; the text is matched
/// with each such character replaced by one BMP character of the same Unicode category and the offsets mapped back.
/// </summary>
internal sealed class CodePointRegex : SplitPattern
{
    private static readonly char[] Representatives = FindRepresentatives();
    private readonly Regex _regex;

    public CodePointRegex(string pattern, JsonComponent where)
    {
        try
        {
            _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
        catch (ArgumentException e)
        {
            throw where.Fail($"regex does not compile in .NET: {e.Message}");
        }
    }

    public override IEnumerable<(int Start, int End)> Matches(string text)
    {
        var hasSurrogates = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;
        if (!hasSurrogates)
        {
            return Plain(text);
        }
        // One char per code point; offsets[i] is where code point i starts in the original text.
        var compact = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (Rune.TryGetRuneAt(text, i, out var rune))
            {
                compact.Append(rune.IsBmp ? (char)rune.Value : Representatives[(int)Rune.GetUnicodeCategory(rune)]);
                i += rune.Utf16SequenceLength;
            }
            else
            {
                compact.Append(text[i]);
                i++;
            }
        }
        offsets.Add(text.Length);
        var matches = new List<(int, int)>();
        foreach (var match in _regex.EnumerateMatches(compact.ToString()))
        {
            matches.Add((offsets[match.Index], offsets[match.Index + match.Length]));
        }
        return matches;
    }

    private List<(int, int)> Plain(string text)
    {
        var matches = new List<(int, int)>();
        foreach (var match in _regex.EnumerateMatches(text))
        {
            matches.Add((match.Index, match.Index + match.Length));
        }
        return matches;
    }

    // For each category, a BMP character well away from ASCII (so it never meets a pattern's literal letters,
    // even case-insensitively) that regex classes treat the same way.
    private static char[] FindRepresentatives()
    {
        var result = new char[32];
        var found = new bool[32];
        foreach (var (from, to) in new[] { (0x3400, 0xD7FF), (0x0400, 0x33FF), (0xE000, 0xFFFD), (0x0080, 0x03FF) })
        {
            for (var c = from; c <= to; c++)
            {
                var category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
                if (!found[category])
                {
                    found[category] = true;
                    result[category] = (char)c;
                }
            }
        }
        return result;
    }
}

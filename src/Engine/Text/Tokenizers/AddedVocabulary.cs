using System.Text;
using System.Text.RegularExpressions;

namespace Distil.Engine.Text.Tokenizers;

/// <summary>
/// Finds added tokens in text the way Hugging Face tokenizers does: leftmost-longest, tokens marked
/// <c>normalized: false</c> in the raw text and the others in normalized text, with <c>lstrip</c>/<c>rstrip</c>
/// taking the whitespace beside a token into it and <c>single_word</c> refusing matches inside a word. Special tokens
/// are only matched when the caller asks (they are plain text otherwise); other added tokens always are.
/// </summary>
internal sealed class AddedVocabulary
{
    private readonly Dictionary<string, AddedToken> _byContent = new(StringComparer.Ordinal);
    private readonly Regex?[] _matchers = new Regex?[4];

    public AddedVocabulary(IEnumerable<AddedToken> tokens)
    {
        foreach (var token in tokens)
        {
            if (token.Content.Length > 0)
            {
                _byContent[token.Content] = token;
            }
        }
        for (var normalized = 0; normalized < 2; normalized++)
        {
            for (var special = 0; special < 2; special++)
            {
                var alternatives = _byContent.Values
                    .Where(t => t.Normalized == (normalized == 1) && (special == 1 || !t.Special))
                    .Select(t => t.Content)
                    // Longest first so that a token that is a prefix of another never wins the alternation.
                    .OrderByDescending(c => c.Length).ThenBy(c => c, StringComparer.Ordinal)
                    .Select(Regex.Escape)
                    .ToList();
                _matchers[normalized * 2 + special] = alternatives.Count == 0 ? null : new Regex(string.Join('|', alternatives), RegexOptions.CultureInvariant);
            }
        }
    }

    public bool IsEmpty => _byContent.Count == 0;

    /// <summary>Splits <paramref name="text"/> into added tokens (Id set) and the text between them (Id null).</summary>
    public List<(string Text, int? Id, int Start)> Split(string text, bool normalizedTokens, bool includeSpecial)
    {
        var result = new List<(string, int?, int)>();
        var matcher = _matchers[(normalizedTokens ? 2 : 0) + (includeSpecial ? 1 : 0)];
        if (matcher is null)
        {
            result.Add((text, null, 0));
            return result;
        }
        var consumed = 0;
        foreach (var match in matcher.EnumerateMatches(text))
        {
            var token = _byContent[text.Substring(match.Index, match.Length)];
            int start = match.Index, stop = match.Index + match.Length;
            if (start < consumed)
            {
                continue;
            }
            if (token.SingleWord && ((start > 0 && IsWordCharBefore(text, start)) || (stop < text.Length && IsWordCharAt(text, stop))))
            {
                continue;
            }
            if (token.LStrip)
            {
                while (start > consumed && char.IsWhiteSpace(text[start - 1]))
                {
                    start--;
                }
            }
            if (token.RStrip)
            {
                while (stop < text.Length && char.IsWhiteSpace(text[stop]))
                {
                    stop++;
                }
            }
            if (start > consumed)
            {
                result.Add((text[consumed..start], null, consumed));
            }
            result.Add((text[start..stop], token.Id, start));
            consumed = stop;
        }
        if (consumed < text.Length)
        {
            result.Add((text[consumed..], null, consumed));
        }
        return result;
    }

    private static bool IsWordCharAt(string text, int index) => IsWordChar(Rune.GetRuneAt(text, index));

    private static bool IsWordCharBefore(string text, int index) =>
        Rune.DecodeLastFromUtf16(text.AsSpan(0, index), out var rune, out _) == System.Buffers.OperationStatus.Done && IsWordChar(rune);

    private static bool IsWordChar(Rune rune) => Rune.IsLetterOrDigit(rune) || rune.Value == '_';
}

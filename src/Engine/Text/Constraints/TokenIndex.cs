using System.Runtime.CompilerServices;

namespace Distil.Engine.Text.Constraints;

/// <summary>
/// A tokenizer's ordinary tokens arranged for mask computation, built once per tokenizer. Most of a vocabulary
/// is plain string content (whole UTF-8 characters, no quote, backslash or control byte); inside a JSON string
/// those tokens are allowed by their character count alone, so only the rest need a trie walk there.
/// </summary>
internal sealed class TokenIndex
{
    private static readonly ConditionalWeakTable<ModelTokenizer, TokenIndex> Cache = [];

    private TokenIndex(ModelTokenizer tokenizer)
    {
        var ordinary = Enumerable.Range(0, tokenizer.VocabularySize)
            .Where(id => !tokenizer.IsSpecial(id) && tokenizer.TokenByteSpan(id).Length > 0)
            .ToArray();
        var plain = new List<(int Chars, int Id)>();
        var other = new List<int>();
        foreach (var id in ordinary)
        {
            var chars = PlainCharacters(tokenizer.TokenByteSpan(id));
            if (chars > 0)
            {
                plain.Add((chars, id));
            }
            else
            {
                other.Add(id);
            }
        }
        plain.Sort();
        All = new TokenTrie(tokenizer, ordinary);
        NotPlain = new TokenTrie(tokenizer, other);
        PlainIds = plain.Select(p => p.Id).ToArray();
        PlainChars = plain.Select(p => p.Chars).ToArray();
        VocabularySize = tokenizer.VocabularySize;
        MaxTokenLength = All.MaxDepth;
    }

    /// <summary>Bytes in the longest token (so also an upper bound on its characters).</summary>
    public int MaxTokenLength { get; }

    public static TokenIndex For(ModelTokenizer tokenizer) => Cache.GetValue(tokenizer, t => new TokenIndex(t));

    public int VocabularySize { get; }

    /// <summary>Every ordinary token.</summary>
    public TokenTrie All { get; }

    /// <summary>Ordinary tokens that are not plain string content.</summary>
    public TokenTrie NotPlain { get; }

    /// <summary>Plain string-content tokens by ascending character count (<see cref="PlainChars"/>).</summary>
    public int[] PlainIds { get; }

    public int[] PlainChars { get; }

    /// <summary>
    /// Characters in the token when every byte can sit unescaped inside a JSON string and the bytes are whole,
    /// well-formed UTF-8 characters; 0 otherwise.
    /// </summary>
    private static int PlainCharacters(ReadOnlySpan<byte> bytes)
    {
        var chars = 0;
        var i = 0;
        while (i < bytes.Length)
        {
            var b = bytes[i];
            if (b < 0x80)
            {
                if (b < 0x20 || b == '"' || b == '\\')
                {
                    return 0;
                }
                i++;
            }
            else
            {
                var (more, low, high) = Utf8Rules.Lead(b);
                if (more == 0 || i + more >= bytes.Length)
                {
                    return 0;
                }
                if (bytes[i + 1] < low || bytes[i + 1] > high)
                {
                    return 0;
                }
                for (var k = 2; k <= more; k++)
                {
                    if (bytes[i + k] is < 0x80 or > 0xBF)
                    {
                        return 0;
                    }
                }
                i += more + 1;
            }
            chars++;
        }
        return chars;
    }
}

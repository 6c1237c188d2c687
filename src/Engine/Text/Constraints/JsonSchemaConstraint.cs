using System.Collections.Concurrent;
using System.Numerics;

namespace Distil.Engine.Text.Constraints;

/// <summary>
/// A JSON schema compiled against one tokenizer. Shared by every request with that schema: it caches the
/// allowed-token set of each grammar state it has seen, so after warm-up a mask costs a lookup and one pass
/// over the logits. Thread-safe.
/// </summary>
public sealed class JsonSchemaConstraint
{
    /// <summary>Masks kept per schema; each costs VocabularySize / 8 bytes (12.5 KiB at 100k tokens).</summary>
    private const int MaxCachedMasks = 2048;

    /// <summary>Beyond this many tokens that change the bytes-to-finish a mask does not list them (a tight budget walks the trie instead).</summary>
    private const int MaxDeviations = 8192;

    private readonly ConcurrentDictionary<string, TokenMask> _masks = new(StringComparer.Ordinal);

    internal JsonSchemaConstraint(JsonGrammar grammar, ModelTokenizer tokenizer)
    {
        Grammar = grammar;
        Tokenizer = tokenizer;
        Index = TokenIndex.For(tokenizer);
    }

    internal JsonGrammar Grammar { get; }

    internal TokenIndex Index { get; }

    internal ModelTokenizer Tokenizer { get; }

    /// <summary>Bytes in the shortest valid document: a max-tokens budget below this cannot produce one.</summary>
    public int MinimumLength => Grammar[Grammar.Root].MinLength;

    /// <summary>Distinct grammar states whose masks are cached (for diagnostics).</summary>
    public int CachedMasks => _masks.Count;

    /// <summary>Bytes held by the cached masks (for diagnostics).</summary>
    public long CachedMaskBytes => _masks.Values.Sum(m => m.Bits.Length * 8L + (m.Deviations?.Length ?? 0) * 8L);

    /// <summary>Fresh state for one generation.</summary>
    public ITokenConstraint CreateState() => new JsonSchemaConstraintState(this);

    /// <summary>
    /// The tokens allowed after <paramref name="stack"/> such that at most <paramref name="budgetAfter"/> bytes are
    /// needed afterwards to complete the document.
    /// </summary>
    internal TokenMask MaskFor(ReadOnlySpan<GrammarFrame> stack, int budgetAfter)
    {
        var key = Key(stack, -1);
        if (!_masks.TryGetValue(key, out var open))
        {
            open = Compute(stack, int.MaxValue);
            Remember(key, open);
        }
        if (budgetAfter >= open.MaxNeedAfter)
        {
            return open;
        }
        var tightKey = Key(stack, budgetAfter);
        if (!_masks.TryGetValue(tightKey, out var tight))
        {
            // The budget bites: drop the tokens that leave too much to do. The open mask lists the tokens that change
            // the bytes-to-finish when they are few; otherwise walk the trie again with the budget.
            tight = open.Deviations is not null ? open.Restrict(budgetAfter) : Compute(stack, budgetAfter);
            Remember(tightKey, tight);
        }
        return tight;
    }

    private void Remember(string key, TokenMask mask)
    {
        if (_masks.Count < MaxCachedMasks)
        {
            _masks.TryAdd(key, mask);
        }
    }

    /// <summary>
    /// Walks the token trie from the state: each trie node feeds one byte to a copy of its parent's state, and a
    /// rejected byte skips the whole subtree, so tokens sharing a dead prefix cost nothing. Inside string content
    /// the plain tokens are taken by character count and only the others are walked.
    /// </summary>
    private TokenMask Compute(ReadOnlySpan<GrammarFrame> start, int budgetAfter)
    {
        var bits = new ulong[(Index.VocabularySize + 63) / 64];
        var maxNeedAfter = -1;
        var allowed = 0;
        var needBefore = Grammar.Need(start);
        var deviations = new List<(int Id, int NeedAfter)>();
        void Allow(int id, int need)
        {
            bits[id >> 6] |= 1UL << (id & 63);
            allowed++;
            maxNeedAfter = Math.Max(maxNeedAfter, need);
            if (need != needBefore && deviations.Count <= MaxDeviations)
            {
                deviations.Add((id, need));
            }
        }

        var trie = Index.All;
        if (Grammar.InStringContent(start[^1], out var room, out var missing))
        {
            trie = Index.NotPlain;
            for (var j = 0; j < Index.PlainIds.Length && Index.PlainChars[j] <= room; j++)
            {
                var need = needBefore - Math.Min(Index.PlainChars[j], missing);
                if (need <= budgetAfter)
                {
                    Allow(Index.PlainIds[j], need);
                }
            }
        }
        var frames = Grammar.MaxFrames;
        var levels = new GrammarFrame[(trie.MaxDepth + 1) * frames];
        var levelDepth = new int[trie.MaxDepth + 1];
        start.CopyTo(levels);
        levelDepth[0] = start.Length;
        var node = 0;
        while (node < trie.NodeCount)
        {
            var level = trie.Depth[node];
            var parent = levels.AsSpan((level - 1) * frames, frames);
            var child = levels.AsSpan(level * frames, frames);
            var depth = levelDepth[level - 1];
            parent[..depth].CopyTo(child);
            if (!Grammar.Feed(child, ref depth, trie.Byte[node]))
            {
                node = trie.SkipTo[node];
                continue;
            }
            levelDepth[level] = depth;
            if (trie.TokenCount[node] > 0)
            {
                var need = Grammar.Need(child[..depth]);
                if (need <= budgetAfter)
                {
                    for (var t = trie.TokenStart[node]; t < trie.TokenStart[node] + trie.TokenCount[node]; t++)
                    {
                        Allow(trie.TokenIds[t], need);
                    }
                }
            }
            node++;
        }
        return new TokenMask(bits, maxNeedAfter, allowed, needBefore, deviations.Count <= MaxDeviations ? deviations.ToArray() : null);
    }

    /// <summary>
    /// The cache key of a state. A string whose minimum length is met behaves the same whatever its length so far
    /// once more characters fit than any token has, so its count is replaced by the (capped) room left: an
    /// unbounded string then has one mask, not one per position.
    /// </summary>
    private string Key(ReadOnlySpan<GrammarFrame> stack, int budget)
    {
        Span<char> key = stackalloc char[stack.Length * 10 + 2];
        var at = 0;
        foreach (var f in stack)
        {
            Put(key, ref at, f.Node);
            Put(key, ref at, f.Pos);
            var node = Grammar[f.Node];
            var count = f.Count;
            if (node.Kind == GrammarKind.String && f.Count >= node.MinChars)
            {
                var room = node.MaxChars == int.MaxValue ? int.MaxValue : node.MaxChars - f.Count;
                count = -1 - Math.Min(room, Index.MaxTokenLength + 1);
            }
            Put(key, ref at, count);
            Put(key, ref at, (int)f.Value);
            Put(key, ref at, (int)(f.Value >> 32));
        }
        Put(key, ref at, budget);
        return new string(key[..at]);
    }

    private static void Put(Span<char> key, ref int at, int value)
    {
        key[at++] = (char)(value & 0xFFFF);
        key[at++] = (char)((uint)value >> 16);
    }
}

/// <summary>
/// Allowed tokens as a bit set, the largest bytes-to-finish any of them leaves, how many there are, the
/// bytes-to-finish before them, and (when few) the tokens after which it differs, with what they leave.
/// </summary>
internal sealed record TokenMask(ulong[] Bits, int MaxNeedAfter, int Allowed, int NeedBefore, (int Id, int NeedAfter)[]? Deviations)
{
    /// <summary>The subset leaving at most <paramref name="budgetAfter"/> bytes; needs <see cref="Deviations"/>.</summary>
    public TokenMask Restrict(int budgetAfter)
    {
        if (budgetAfter >= MaxNeedAfter)
        {
            return this;
        }
        // Tokens not listed leave exactly NeedBefore: they stay when the budget covers that.
        var keepUnlisted = budgetAfter >= NeedBefore;
        var bits = keepUnlisted ? (ulong[])Bits.Clone() : new ulong[Bits.Length];
        var allowed = keepUnlisted ? Allowed : 0;
        var maxNeedAfter = keepUnlisted ? NeedBefore : -1;
        foreach (var (id, needAfter) in Deviations!)
        {
            var fits = needAfter <= budgetAfter;
            if (keepUnlisted && !fits)
            {
                bits[id >> 6] &= ~(1UL << (id & 63));
                allowed--;
            }
            else if (!keepUnlisted && fits)
            {
                bits[id >> 6] |= 1UL << (id & 63);
                allowed++;
            }
            if (fits)
            {
                maxNeedAfter = Math.Max(maxNeedAfter, needAfter);
            }
        }
        return new TokenMask(bits, maxNeedAfter, allowed, NeedBefore, null);
    }

    public bool IsAllowed(int id) => (uint)(id >> 6) < (uint)Bits.Length && (Bits[id >> 6] & (1UL << (id & 63))) != 0;

    /// <summary>Sets every logit outside the set to negative infinity.</summary>
    public void Apply(Span<float> logits)
    {
        for (var word = 0; word * 64 < logits.Length; word++)
        {
            var allowed = word < Bits.Length ? Bits[word] : 0;
            if (allowed == ulong.MaxValue)
            {
                continue;
            }
            var end = Math.Min(64, logits.Length - word * 64);
            var blocked = ~allowed;
            if (end < 64)
            {
                blocked &= (1UL << end) - 1;
            }
            while (blocked != 0)
            {
                var bit = BitOperations.TrailingZeroCount(blocked);
                logits[word * 64 + bit] = float.NegativeInfinity;
                blocked &= blocked - 1;
            }
        }
    }
}

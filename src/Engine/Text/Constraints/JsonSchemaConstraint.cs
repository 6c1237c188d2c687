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

    /// <summary>Beyond this many budget-reducing tokens a mask does not keep them (a tight budget walks the trie instead).</summary>
    private const int MaxProgressTokens = 4096;

    private readonly ConcurrentDictionary<string, TokenMask> _masks = new(StringComparer.Ordinal);

    internal JsonSchemaConstraint(JsonGrammar grammar, ModelTokenizer tokenizer)
    {
        Grammar = grammar;
        Tokenizer = tokenizer;
        Trie = TokenTrie.For(tokenizer);
    }

    internal JsonGrammar Grammar { get; }

    internal TokenTrie Trie { get; }

    internal ModelTokenizer Tokenizer { get; }

    /// <summary>Bytes in the shortest valid document: a max-tokens budget below this cannot produce one.</summary>
    public int MinimumLength => Grammar[Grammar.Root].MinLength;

    /// <summary>Distinct grammar states whose masks are cached (for diagnostics).</summary>
    public int CachedMasks => _masks.Count;

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
            // The budget bites. With no slack at all only tokens that shorten the way to the end qualify, and the
            // open mask listed those; otherwise walk the trie again with the budget.
            tight = budgetAfter < open.NeedBefore && open.Progress is not null ? open.Restrict(budgetAfter) : Compute(stack, budgetAfter);
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
    /// rejected byte skips the whole subtree, so tokens sharing a dead prefix cost nothing.
    /// </summary>
    private TokenMask Compute(ReadOnlySpan<GrammarFrame> start, int budgetAfter)
    {
        var trie = Trie;
        var frames = Grammar.MaxFrames;
        var levels = new GrammarFrame[(trie.MaxDepth + 1) * frames];
        var levelDepth = new int[trie.MaxDepth + 1];
        start.CopyTo(levels);
        levelDepth[0] = start.Length;
        var bits = new ulong[(trie.VocabularySize + 63) / 64];
        var maxNeedAfter = -1;
        var allowed = 0;
        var needBefore = Grammar.Need(start);
        var progress = new List<(int Id, int NeedAfter)>();
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
                        var id = trie.TokenIds[t];
                        bits[id >> 6] |= 1UL << (id & 63);
                        allowed++;
                        if (need < needBefore && progress is { Count: < MaxProgressTokens })
                        {
                            progress.Add((id, need));
                        }
                    }
                    maxNeedAfter = Math.Max(maxNeedAfter, need);
                }
            }
            node++;
        }
        return new TokenMask(bits, maxNeedAfter, allowed, needBefore, progress.Count < MaxProgressTokens ? progress.ToArray() : null);
    }

    private static string Key(ReadOnlySpan<GrammarFrame> stack, int budget)
    {
        Span<char> key = stackalloc char[stack.Length * 10 + 2];
        var at = 0;
        foreach (var f in stack)
        {
            Put(key, ref at, f.Node);
            Put(key, ref at, f.Pos);
            Put(key, ref at, f.Count);
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
/// bytes-to-finish before them, and the tokens that reduce it (with what they leave).
/// </summary>
internal sealed record TokenMask(ulong[] Bits, int MaxNeedAfter, int Allowed, int NeedBefore, (int Id, int NeedAfter)[]? Progress)
{
    /// <summary>The subset leaving at most <paramref name="budgetAfter"/> bytes, for budgets below <see cref="NeedBefore"/>.</summary>
    public TokenMask Restrict(int budgetAfter)
    {
        var bits = new ulong[Bits.Length];
        var allowed = 0;
        var maxNeedAfter = -1;
        foreach (var (id, needAfter) in Progress ?? [])
        {
            if (needAfter <= budgetAfter)
            {
                bits[id >> 6] |= 1UL << (id & 63);
                allowed++;
                maxNeedAfter = Math.Max(maxNeedAfter, needAfter);
            }
        }
        return new TokenMask(bits, maxNeedAfter, allowed, NeedBefore, []);
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

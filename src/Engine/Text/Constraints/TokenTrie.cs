namespace Distil.Engine.Text.Constraints;

/// <summary>
/// The byte strings of every ordinary (non-special) token as a trie laid out in depth-first order: a node's subtree
/// is the range up to <see cref="SkipTo"/>, so a walk can drop every token sharing a rejected prefix in one jump.
/// </summary>
internal sealed class TokenTrie
{
    public TokenTrie(ModelTokenizer tokenizer, IEnumerable<int> tokenIds)
    {
        var ids = tokenIds.ToArray();
        var keys = ids.Select(id => tokenizer.TokenBytes(id)).ToArray();
        System.Array.Sort(keys, ids, Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b)));

        var bytes = new List<byte>();
        var depths = new List<int>();
        var tokenStart = new List<int>();
        var tokenCount = new List<int>();
        var path = new List<int>();
        byte[] previous = [];
        for (var t = 0; t < keys.Length; t++)
        {
            var key = keys[t];
            var common = key.AsSpan().CommonPrefixLength(previous);
            path.RemoveRange(common, path.Count - common);
            for (var d = common; d < key.Length; d++)
            {
                path.Add(bytes.Count);
                bytes.Add(key[d]);
                depths.Add(d + 1);
                tokenStart.Add(0);
                tokenCount.Add(0);
            }
            var node = path[^1];
            if (tokenCount[node] == 0)
            {
                tokenStart[node] = t;
            }
            tokenCount[node]++;
            previous = key;
        }
        Byte = bytes.ToArray();
        Depth = depths.ToArray();
        TokenStart = tokenStart.ToArray();
        TokenCount = tokenCount.ToArray();
        TokenIds = ids;
        MaxDepth = Depth.Length == 0 ? 0 : Depth.Max();
        SkipTo = new int[Byte.Length];
        var open = new Stack<int>();
        for (var i = 0; i < Byte.Length; i++)
        {
            while (open.Count > 0 && Depth[open.Peek()] >= Depth[i])
            {
                SkipTo[open.Pop()] = i;
            }
            open.Push(i);
        }
        while (open.Count > 0)
        {
            SkipTo[open.Pop()] = Byte.Length;
        }
        VocabularySize = tokenizer.VocabularySize;
    }

    public int NodeCount => Byte.Length;

    public int VocabularySize { get; }

    /// <summary>The byte that leads from the parent to each node.</summary>
    public byte[] Byte { get; }

    /// <summary>Each node's depth, 1 for the first byte of a token.</summary>
    public int[] Depth { get; }

    /// <summary>The index just past each node's subtree.</summary>
    public int[] SkipTo { get; }

    /// <summary>The tokens ending at a node: <see cref="TokenIds"/>[start .. start + count).</summary>
    public int[] TokenStart { get; }

    public int[] TokenCount { get; }

    public int[] TokenIds { get; }

    public int MaxDepth { get; }
}

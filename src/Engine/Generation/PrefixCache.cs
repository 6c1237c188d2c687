using Distil.Engine.Onnx;

namespace Distil.Engine.Generation;

/// <summary>
/// Prefilled KV caches of token prefixes that several requests share (a judge's rubric, a system prompt),
/// keyed by a hash of the prefix at block boundaries and bounded in bytes (least recently used goes first).
/// A prefix is cached only once a second request has shown that it is shared.
/// </summary>
internal sealed class PrefixCache(long budgetBytes, int blockSize = 32) : IDisposable
{
    private const int MaxSeenHashes = 1 << 16;
    private readonly Dictionary<ulong, LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recency = new();
    private readonly HashSet<ulong> _seen = [];
    private long _bytes;

    public int BlockSize => blockSize;

    public long Hits { get; private set; }

    public long ReusedTokens { get; private set; }

    /// <summary>Plans a prefill: the longest cached prefix to start from (leaving at least one token to run) and
    /// the longer block boundary at which a snapshot is worth keeping (0 if none).</summary>
    public (KvState? Cache, int Length, int SnapshotAt) Plan(int[] tokens)
    {
        if (budgetBytes <= 0)
        {
            return (null, 0, 0);
        }

        var hashes = BoundaryHashes(tokens);
        KvState? cache = null;
        var length = 0;
        var snapshot = 0;
        for (var k = hashes.Length - 1; k >= 0; k--)
        {
            var boundary = (k + 1) * blockSize;
            if (cache is null && _entries.TryGetValue(hashes[k], out var node) && node.Value.Tokens.AsSpan().SequenceEqual(tokens.AsSpan(0, boundary)))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                cache = node.Value.State;
                length = boundary;
            }

            if (snapshot == 0 && cache is null && _seen.Contains(hashes[k]))
            {
                snapshot = boundary;
            }
        }

        if (_seen.Count > MaxSeenHashes)
        {
            _seen.Clear();
        }

        foreach (var hash in hashes)
        {
            _seen.Add(hash);
        }

        if (cache is not null)
        {
            Hits++;
            ReusedTokens += length;
        }

        return (cache, length, snapshot > length ? snapshot : 0);
    }

    /// <summary>Keeps <paramref name="state"/> (batch 1, the KV of <paramref name="prefix"/>); the cache owns it
    /// from now on. Returns false (and the caller keeps ownership) when it does not fit the budget.</summary>
    public bool Add(int[] prefix, KvState state)
    {
        var bytes = state.Bytes;
        if (bytes > budgetBytes)
        {
            return false;
        }

        var hash = Hash(prefix, prefix.Length);
        if (_entries.ContainsKey(hash))
        {
            return false;
        }

        while (_bytes + bytes > budgetBytes && _recency.Last is { } oldest)
        {
            Remove(oldest);
        }

        _entries[hash] = _recency.AddFirst(new Entry(hash, prefix, state, bytes));
        _bytes += bytes;
        return true;
    }

    public void Dispose()
    {
        while (_recency.Last is { } node)
        {
            Remove(node);
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Hash);
        _bytes -= node.Value.Bytes;
        node.Value.State.Dispose();
    }

    /// <summary>Hashes of tokens[0..boundary) for every block boundary before the last token.</summary>
    private ulong[] BoundaryHashes(int[] tokens)
    {
        var count = (tokens.Length - 1) / blockSize;
        var result = new ulong[Math.Max(0, count)];
        var hash = 14695981039346656037UL;
        for (var i = 0; i < count * blockSize; i++)
        {
            hash = Mix(hash, tokens[i]);
            if ((i + 1) % blockSize == 0)
            {
                result[(i + 1) / blockSize - 1] = hash;
            }
        }

        return result;
    }

    private static ulong Hash(int[] tokens, int length)
    {
        var hash = 14695981039346656037UL;
        for (var i = 0; i < length; i++)
        {
            hash = Mix(hash, tokens[i]);
        }

        return hash;
    }

    private static ulong Mix(ulong hash, int token) => (hash ^ (uint)token) * 1099511628211UL;

    private sealed record Entry(ulong Hash, int[] Tokens, KvState State, long Bytes);
}

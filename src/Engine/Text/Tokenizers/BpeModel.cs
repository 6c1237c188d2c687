using System.Collections.Concurrent;
using System.Text;

namespace Distil.Engine.Text.Tokenizers;

/// <summary>
/// The BPE model of a tokenizer.json, with the options Microsoft.ML.Tokenizers' BpeTokenizer (2.0) lacks:
/// <c>ignore_merges</c> (a word that is itself a vocabulary entry is that one token — Llama 3) and
/// <c>byte_fallback</c> (a character outside the vocabulary becomes its UTF-8 bytes as <c>&lt;0xXX&gt;</c> tokens —
/// Llama 2, Mistral). Words are taken per code point, and merges are applied lowest rank first, leftmost on ties,
/// exactly as Hugging Face tokenizers does.
/// </summary>
internal sealed class BpeModel
{
    private const int CacheLimit = 200_000;
    private const int CachedWordLength = 64;

    private readonly Dictionary<string, int> _vocabulary;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int? _unknownId;
    private readonly bool _fuseUnknown;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly string? _continuingSubwordPrefix;
    private readonly string? _endOfWordSuffix;
    private readonly int[]? _byteIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    // ConcurrentDictionary.Count takes every lock, so the cache keeps its own (approximate) count.
    private int _cached;

    public BpeModel(JsonComponent model)
    {
        var vocab = model.Child("vocab");
        if (vocab.Element.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            throw vocab.Fail("must be an object of token → id");
        }
        _vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.Element.EnumerateObject())
        {
            if (!entry.Value.TryGetInt32(out var id) || id < 0)
            {
                throw vocab.Fail($"entry \"{entry.Name}\" is not a token id");
            }
            _vocabulary[entry.Name] = id;
        }
        if (_vocabulary.Count == 0)
        {
            throw vocab.Fail("is empty");
        }
        _continuingSubwordPrefix = NullIfEmpty(model.OptionalString("continuing_subword_prefix"));
        _endOfWordSuffix = NullIfEmpty(model.OptionalString("end_of_word_suffix"));
        _fuseUnknown = model.Bool("fuse_unk", false);
        _byteFallback = model.Bool("byte_fallback", false);
        _ignoreMerges = model.Bool("ignore_merges", false);
        if (model.Has("dropout") && model.Element.GetProperty("dropout").TryGetDouble(out var dropout) && dropout > 0)
        {
            throw model.Child("dropout").Fail("BPE dropout is random; Distil tokenizes deterministically");
        }
        if (model.OptionalString("unk_token") is { } unk)
        {
            _unknownId = _vocabulary.TryGetValue(unk, out var unkId) ? unkId : throw model.Child("unk_token").Fail($"\"{unk}\" is not in model.vocab");
        }
        if (_byteFallback)
        {
            _byteIds = new int[256];
            for (var b = 0; b < 256; b++)
            {
                _byteIds[b] = _vocabulary.TryGetValue(ByteToken((byte)b), out var id) ? id : -1;
            }
        }
        _merges = ReadMerges(model);
        IdToToken = new string[_vocabulary.Values.Max() + 1];
        foreach (var (token, id) in _vocabulary)
        {
            IdToToken[id] = token;
        }
    }

    /// <summary>Vocabulary entries by id (null where the vocabulary leaves an id unused).</summary>
    public string?[] IdToToken { get; }

    public IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;

    /// <summary>The vocabulary entry a byte-fallback byte is written as (<c>&lt;0x41&gt;</c>).</summary>
    public static string ByteToken(byte b) => $"<0x{b:X2}>";

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    private Dictionary<long, (int, int)> ReadMerges(JsonComponent model)
    {
        var merges = new Dictionary<long, (int, int)>(PairComparer.Instance);
        if (!model.Has("merges"))
        {
            return merges;
        }
        var list = model.Child("merges");
        if (list.Element.ValueKind != System.Text.Json.JsonValueKind.Array)
        {
            throw list.Fail("must be an array");
        }
        // Span lookups: a tokenizer has 100k–300k merges, so no strings are made per merge.
        var lookup = _vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        var prefix = _continuingSubwordPrefix ?? "";
        var buffer = new char[256];
        var rank = 0;
        foreach (var merge in list.Element.EnumerateArray())
        {
            string left, right;
            if (merge.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                var text = merge.GetString()!;
                var space = text.IndexOf(' ', 1);
                if (space < 0)
                {
                    throw Bad("is not \"a b\"");
                }
                (left, right) = (text[..space], text[(space + 1)..]);
            }
            else if (merge.ValueKind == System.Text.Json.JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == System.Text.Json.JsonValueKind.String && merge[1].ValueKind == System.Text.Json.JsonValueKind.String)
            {
                (left, right) = (merge[0].GetString()!, merge[1].GetString()!);
            }
            else
            {
                throw Bad("is neither \"a b\" nor [\"a\", \"b\"]");
            }
            // With a continuing-subword prefix the right part carries it, the merged token once only.
            var rightTail = prefix.Length > 0 && right.StartsWith(prefix, StringComparison.Ordinal) ? right.AsSpan(prefix.Length) : right.AsSpan();
            var length = left.Length + rightTail.Length;
            if (buffer.Length < length)
            {
                buffer = new char[length * 2];
            }
            left.CopyTo(buffer);
            rightTail.CopyTo(buffer.AsSpan(left.Length));
            if (!lookup.TryGetValue(left, out var a) || !lookup.TryGetValue(right, out var b) || !lookup.TryGetValue(buffer.AsSpan(0, length), out var id))
            {
                throw Bad($"merges \"{left}\" and \"{right}\", which (or whose result) is not in model.vocab");
            }
            merges[Key(a, b)] = (rank, id);
            rank++;
        }
        return merges;

        TokenizerFormatException Bad(string reason) => new JsonComponent(list.File, $"{list.Path}[{rank}]", default).Fail(reason);
    }

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Encode(string word, List<int> ids)
    {
        if (word.Length == 0)
        {
            return;
        }
        if (_ignoreMerges && _vocabulary.TryGetValue(word, out var whole))
        {
            ids.Add(whole);
            return;
        }
        if (_cache.TryGetValue(word, out var cached))
        {
            ids.AddRange(cached);
            return;
        }
        var result = MergeWord(word);
        if (word.Length <= CachedWordLength && _cached < CacheLimit && _cache.TryAdd(word, result))
        {
            Interlocked.Increment(ref _cached);
        }
        ids.AddRange(result);
    }

    private int[] MergeWord(string word)
    {
        var symbols = InitialSymbols(word);
        var count = symbols.Count;
        var prev = new int[count];
        var next = new int[count];
        var ids = new int[count];
        var removed = new bool[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = symbols[i];
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        // Lowest rank first, then leftmost: the priority packs both.
        var queue = new PriorityQueue<(int Pos, int NewId), long>();
        for (var i = 0; i + 1 < count; i++)
        {
            if (_merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m))
            {
                queue.Enqueue((i, m.NewId), Priority(m.Rank, i));
            }
        }
        while (queue.TryDequeue(out var top, out _))
        {
            var pos = top.Pos;
            if (removed[pos] || next[pos] < 0)
            {
                continue;
            }
            var right = next[pos];
            // A stale entry: one of the two symbols has changed since it was queued.
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out var current) || current.NewId != top.NewId)
            {
                continue;
            }
            ids[pos] = top.NewId;
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = pos;
            }
            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var before))
            {
                queue.Enqueue((prev[pos], before.NewId), Priority(before.Rank, prev[pos]));
            }
            if (next[pos] >= 0 && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var after))
            {
                queue.Enqueue((pos, after.NewId), Priority(after.Rank, pos));
            }
        }
        var result = new List<int>(count);
        for (var i = 0; i < count; i++)
        {
            if (!removed[i])
            {
                result.Add(ids[i]);
            }
        }
        return result.ToArray();
    }

    /// <summary>long's own hash (the two halves XORed) puts most pairs of small ids in few buckets; this one mixes them.</summary>
    private sealed class PairComparer : IEqualityComparer<long>
    {
        public static readonly PairComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long pair) => (int)((ulong)(pair * unchecked((long)0x9E3779B97F4A7C15)) >> 32);
    }

    private static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;

    // One symbol per character (with the subword prefix/suffix where they apply); a character outside the
    // vocabulary becomes byte tokens, else the unknown token (runs fused when fuse_unk), else nothing.
    private List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        int? pendingUnknown = null;
        var first = true;
        for (var i = 0; i < word.Length;)
        {
            var length = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var isLast = i + length >= word.Length;
            var text = word.Substring(i, length);
            if (!first && _continuingSubwordPrefix is not null)
            {
                text = _continuingSubwordPrefix + text;
            }
            if (isLast && _endOfWordSuffix is not null)
            {
                text += _endOfWordSuffix;
            }
            first = false;
            i += length;
            if (_vocabulary.TryGetValue(text, out var id))
            {
                if (pendingUnknown is { } unk)
                {
                    symbols.Add(unk);
                    pendingUnknown = null;
                }
                symbols.Add(id);
                continue;
            }
            if (_byteIds is not null)
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                if (bytes.All(b => _byteIds[b] >= 0))
                {
                    // As in Hugging Face tokenizers, a pending unknown token is not flushed before byte tokens.
                    symbols.AddRange(bytes.Select(b => _byteIds[b]));
                    continue;
                }
            }
            if (_unknownId is { } unknown)
            {
                if (pendingUnknown is not null && !_fuseUnknown)
                {
                    symbols.Add(pendingUnknown.Value);
                }
                pendingUnknown = unknown;
            }
        }
        if (pendingUnknown is { } last)
        {
            symbols.Add(last);
        }
        return symbols;
    }
}

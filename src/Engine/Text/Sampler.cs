namespace Distil.Engine.Text;

/// <summary>
/// Draws one sequence's next tokens from logits: repetition penalty (CTRL-style), then temperature, top-k, top-p
/// and min-p, with a seeded <see cref="SeededRandom"/> so that a seed always yields the same tokens.
/// One instance per sequence; not thread-safe. Work buffers are per thread, so many samplers cost no memory each.
/// </summary>
public sealed class Sampler
{
    [ThreadStatic] private static int[]? t_ids;
    [ThreadStatic] private static float[]? t_weights;
    [ThreadStatic] private static int[]? t_seen;
    [ThreadStatic] private static int t_seenEpoch;

    private readonly SamplingOptions _options;
    private SeededRandom _random;

    public Sampler(SamplingOptions options, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _random = new SeededRandom(seed);
    }

    public SamplingOptions Options => _options;

    /// <summary>
    /// The next token. <paramref name="logits"/> is used as scratch and left modified (penalties applied);
    /// tokens at negative infinity (masked) are never chosen.
    /// </summary>
    /// <exception cref="InvalidOperationException">Every logit is negative infinity or NaN.</exception>
    public int Sample(Span<float> logits, ReadOnlySpan<int> previousTokens)
    {
        if (_options.RepetitionPenalty != 1 && !previousTokens.IsEmpty)
        {
            ApplyRepetitionPenalty(logits, previousTokens, _options.RepetitionPenalty);
        }
        var best = ArgMax(logits);
        if (_options.IsGreedy)
        {
            return best;
        }
        var max = logits[best];
        var inverseTemperature = 1 / _options.Temperature;
        var topK = _options.TopK > 0 && _options.TopK < logits.Length ? _options.TopK : 0;
        var ids = Buffer(ref t_ids, logits.Length);
        var weights = Buffer(ref t_weights, logits.Length);

        int count;
        bool sorted;
        if (topK > 0)
        {
            count = SelectTopK(logits, topK, ids);
            sorted = true;
        }
        else
        {
            count = 0;
            for (var id = 0; id < logits.Length; id++)
            {
                if (logits[id] > float.NegativeInfinity)
                {
                    ids[count++] = id;
                }
            }
            sorted = false;
        }
        var total = 0.0;
        for (var i = 0; i < count; i++)
        {
            var w = MathF.Exp((logits[ids[i]] - max) * inverseTemperature);
            weights[i] = w;
            total += w;
        }
        if (_options.TopP < 1)
        {
            count = sorted ? Nucleus(weights, count, total, _options.TopP) : NucleusBySelection(ids, weights, count, total, _options.TopP);
        }
        // The most likely token has weight exp(0) = 1, so min-p's "p ≥ min_p · p_max" is "weight ≥ min_p".
        var minWeight = _options.MinP;
        total = 0;
        for (var i = 0; i < count; i++)
        {
            if (weights[i] >= minWeight)
            {
                total += weights[i];
            }
        }
        var target = _random.NextDouble() * total;
        var cumulative = 0.0;
        var last = best;
        for (var i = 0; i < count; i++)
        {
            if (weights[i] < minWeight || weights[i] <= 0)
            {
                continue;
            }
            cumulative += weights[i];
            last = ids[i];
            if (cumulative > target)
            {
                return ids[i];
            }
        }
        return last;
    }

    /// <summary>The highest logit's id, the lowest id on ties.</summary>
    internal static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = -1;
        var bestValue = float.NegativeInfinity;
        for (var id = 0; id < logits.Length; id++)
        {
            if (logits[id] > bestValue)
            {
                bestValue = logits[id];
                best = id;
            }
        }
        return best >= 0 ? best : throw new InvalidOperationException("no token can be sampled: every logit is -infinity or NaN");
    }

    /// <summary>Each distinct earlier token once: positive logits divided by the penalty, negative ones multiplied.</summary>
    private static void ApplyRepetitionPenalty(Span<float> logits, ReadOnlySpan<int> previous, float penalty)
    {
        var seen = Buffer(ref t_seen, logits.Length);
        var epoch = ++t_seenEpoch;
        if (epoch == int.MaxValue)
        {
            Array.Clear(seen);
            t_seenEpoch = epoch = 1;
        }
        foreach (var id in previous)
        {
            if ((uint)id >= (uint)logits.Length || seen[id] == epoch)
            {
                continue;
            }
            seen[id] = epoch;
            logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
        }
    }

    /// <summary>The k best ids in descending order (lower id first on ties) by a size-k min-heap: O(n log k).</summary>
    private static int SelectTopK(ReadOnlySpan<float> logits, int k, int[] ids)
    {
        var heap = ids.AsSpan(0, k);
        var size = 0;
        for (var id = 0; id < logits.Length; id++)
        {
            if (!(logits[id] > float.NegativeInfinity))
            {
                continue;
            }
            if (size < k)
            {
                heap[size] = id;
                SiftUp(heap, size++, logits);
            }
            else if (Better(id, heap[0], logits))
            {
                heap[0] = id;
                SiftDown(heap, 0, size, logits);
            }
        }
        // Popping the min-heap fills the array from the back: best first.
        for (var end = size - 1; end > 0; end--)
        {
            (heap[0], heap[end]) = (heap[end], heap[0]);
            SiftDown(heap, 0, end, logits);
        }
        return size;
    }

    private static bool Better(int a, int b, ReadOnlySpan<float> logits) =>
        logits[a] > logits[b] || (logits[a] == logits[b] && a < b);

    private static void SiftUp(Span<int> heap, int i, ReadOnlySpan<float> logits)
    {
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (!Better(heap[parent], heap[i], logits))
            {
                break;
            }
            (heap[parent], heap[i]) = (heap[i], heap[parent]);
            i = parent;
        }
    }

    private static void SiftDown(Span<int> heap, int i, int size, ReadOnlySpan<float> logits)
    {
        while (true)
        {
            var left = 2 * i + 1;
            if (left >= size)
            {
                return;
            }
            var worst = left + 1 < size && Better(heap[left], heap[left + 1], logits) ? left + 1 : left;
            if (!Better(heap[i], heap[worst], logits))
            {
                return;
            }
            (heap[i], heap[worst]) = (heap[worst], heap[i]);
            i = worst;
        }
    }

    /// <summary>How many of the descending weights make up the smallest prefix holding <paramref name="topP"/> of the mass.</summary>
    private static int Nucleus(float[] weights, int count, double total, float topP)
    {
        var cumulative = 0.0;
        var threshold = topP * total;
        for (var i = 0; i < count; i++)
        {
            cumulative += weights[i];
            if (cumulative >= threshold)
            {
                return i + 1;
            }
        }
        return count;
    }

    /// <summary>
    /// Top-p without sorting: quickselect-style partitioning around a pivot finds the smallest heaviest set holding
    /// <paramref name="topP"/> of the mass in expected O(n), even for flat distributions where the nucleus is most
    /// of the vocabulary. The kept entries end up first (in a deterministic, not sorted, order).
    /// </summary>
    private static int NucleusBySelection(int[] ids, float[] weights, int count, double total, float topP)
    {
        var threshold = topP * total;
        var keptMass = 0.0;
        var lo = 0;
        var hi = count;
        while (hi > lo)
        {
            var p = Partition(ids, weights, lo, hi);
            var heavierMass = 0.0;
            for (var i = lo; i < p; i++)
            {
                heavierMass += weights[i];
            }
            if (keptMass + heavierMass >= threshold)
            {
                hi = p;
            }
            else if (keptMass + heavierMass + weights[p] >= threshold)
            {
                return p + 1;
            }
            else
            {
                keptMass += heavierMass + weights[p];
                lo = p + 1;
            }
        }
        return Math.Max(lo, 1);
    }

    /// <summary>Moves entries heavier than a median-of-three pivot before it; returns the pivot's final index.</summary>
    private static int Partition(int[] ids, float[] weights, int lo, int hi)
    {
        var mid = lo + (hi - lo) / 2;
        var last = hi - 1;
        // Median of three to the end slot as pivot.
        if (Heavier(ids, weights, mid, lo)) Swap(ids, weights, mid, lo);
        if (Heavier(ids, weights, last, lo)) Swap(ids, weights, last, lo);
        if (Heavier(ids, weights, mid, last)) Swap(ids, weights, mid, last);
        var store = lo;
        for (var i = lo; i < last; i++)
        {
            if (Heavier(ids, weights, i, last))
            {
                Swap(ids, weights, i, store++);
            }
        }
        Swap(ids, weights, store, last);
        return store;
    }

    private static void Swap(int[] ids, float[] weights, int a, int b)
    {
        (ids[a], ids[b]) = (ids[b], ids[a]);
        (weights[a], weights[b]) = (weights[b], weights[a]);
    }

    private static bool Heavier(int[] ids, float[] weights, int a, int b) =>
        weights[a] > weights[b] || (weights[a] == weights[b] && ids[a] < ids[b]);

    private static T[] Buffer<T>(ref T[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length)
        {
            buffer = new T[length];
        }
        return buffer;
    }
}

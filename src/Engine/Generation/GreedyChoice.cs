using System.Numerics;

namespace Distil.Engine.Generation;

/// <summary>
/// The greedy token of a logits row with SIMD: the same id engine-text's <c>Sampler</c> picks for temperature 0
/// (the first id holding the highest value, NaN never chosen), several times faster than its scalar loop, which
/// matters once a decode step has dozens of 100k-vocabulary rows to read.
/// </summary>
internal static class GreedyChoice
{
    /// <summary>The first index of the largest non-NaN value; -1 when there is none (every value -infinity or NaN),
    /// which the caller leaves to the sampler to report.</summary>
    public static int IndexOfMax(ReadOnlySpan<float> values)
    {
        var width = Vector<float>.Count;
        var best = float.NegativeInfinity;
        var i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= width)
        {
            // GreaterThan is false for NaN, so NaN lanes never replace a maximum (the sampler skips NaN the same way).
            var max = new Vector<float>(float.NegativeInfinity);
            for (; i <= values.Length - width; i += width)
            {
                var v = new Vector<float>(values[i..]);
                max = Vector.ConditionalSelect(Vector.GreaterThan(v, max), v, max);
            }

            for (var lane = 0; lane < width; lane++)
            {
                if (max[lane] > best)
                {
                    best = max[lane];
                }
            }
        }

        for (; i < values.Length; i++)
        {
            if (values[i] > best)
            {
                best = values[i];
            }
        }

        if (best == float.NegativeInfinity)
        {
            return -1;
        }

        // The first position equal to the maximum (== treats -0 and +0 alike, as the sampler's > does).
        var target = new Vector<float>(best);
        var j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; j <= values.Length - width; j += width)
            {
                if (Vector.EqualsAny(new Vector<float>(values[j..]), target))
                {
                    break;
                }
            }
        }

        for (; j < values.Length; j++)
        {
            if (values[j] == best)
            {
                return j;
            }
        }

        return -1;
    }
}

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
        var bestIndex = -1;
        var i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= width)
        {
            // One pass, each lane keeping its own maximum and where it first saw it. GreaterThan is false for NaN
            // and for an equal value (-0 and +0 included), so a lane keeps its earliest maximum and never a NaN.
            var max = new Vector<float>(float.NegativeInfinity);
            var at = new Vector<int>(-1);
            var index = Vector<int>.Indices;
            var stride = new Vector<int>(width);
            for (; i <= values.Length - width; i += width)
            {
                var v = new Vector<float>(values[i..]);
                var greater = Vector.GreaterThan(v, max);
                max = Vector.ConditionalSelect(greater, v, max);
                at = Vector.ConditionalSelect(greater, index, at);
                index += stride;
            }

            for (var lane = 0; lane < width; lane++)
            {
                if (max[lane] > best || (max[lane] == best && at[lane] >= 0 && at[lane] < bestIndex))
                {
                    best = max[lane];
                    bestIndex = at[lane];
                }
            }
        }

        // The tail comes after every lane's positions: only a strictly larger value wins there.
        for (; i < values.Length; i++)
        {
            if (values[i] > best)
            {
                best = values[i];
                bestIndex = i;
            }
        }

        return bestIndex;
    }
}

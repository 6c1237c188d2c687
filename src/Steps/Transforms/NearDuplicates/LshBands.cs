namespace Distil.Steps;

/// <summary>
/// Locality-sensitive hashing over MinHash signatures: the signature is cut into <see cref="Bands"/> bands of
/// <see cref="Rows"/> values, and two texts are candidates when any band is equal. Texts of Jaccard similarity s
/// collide with probability 1 − (1 − sʳ)ᵇ, an S-curve whose steep part sits near the threshold.
/// </summary>
internal sealed record LshBands(int Bands, int Rows)
{
    /// <summary>
    /// The bands and rows (b·r ≤ <paramref name="permutations"/>) that make the S-curve fit a step at
    /// <paramref name="threshold"/> best: the least sum of the area under the curve below the threshold (pairs merged
    /// though dissimilar) and the area above it left out (similar pairs missed), weighted equally.
    /// </summary>
    public static LshBands For(double threshold, int permutations)
    {
        var best = new LshBands(1, permutations);
        var bestError = double.MaxValue;
        for (var b = 1; b <= permutations; b++)
        {
            for (var r = 1; b * r <= permutations; r++)
            {
                var falsePositives = Integrate(s => Collision(s, b, r), 0, threshold);
                var falseNegatives = Integrate(s => 1 - Collision(s, b, r), threshold, 1);
                var error = (falsePositives + falseNegatives) / 2;
                if (error < bestError)
                {
                    (best, bestError) = (new LshBands(b, r), error);
                }
            }
        }

        return best;
    }

    /// <summary>The chance that two texts of Jaccard similarity <paramref name="s"/> share a band.</summary>
    public static double Collision(double s, int bands, int rows) => 1 - Math.Pow(1 - Math.Pow(s, rows), bands);

    /// <summary>The hash of band <paramref name="band"/> of a signature; the band's number is part of it, so equal values in different bands never meet.</summary>
    public ulong Hash(ReadOnlySpan<ulong> signature, int band)
    {
        var hash = StableHash.Mix((ulong)band + 1);
        foreach (var value in signature.Slice(band * Rows, Rows))
        {
            hash = StableHash.Mix(hash ^ value);
        }

        return hash;
    }

    /// <summary>Simpson's rule on 64 intervals: the curves are smooth, and the choice only needs to be stable.</summary>
    private static double Integrate(Func<double, double> f, double from, double to)
    {
        const int Intervals = 64;
        var h = (to - from) / Intervals;
        var sum = f(from) + f(to);
        for (var i = 1; i < Intervals; i++)
        {
            sum += f(from + (i * h)) * (i % 2 == 1 ? 4 : 2);
        }

        return sum * h / 3;
    }
}

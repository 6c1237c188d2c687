namespace Distil.Steps;

/// <summary>
/// A seeded family of <c>num_perm</c> universal hash functions h(x) = (a·x + b) mod (2⁶¹ − 1); the MinHash signature
/// of a shingle set is the minimum of each function over the set. Two sets agree in one position of their signatures
/// with probability equal to their Jaccard similarity. The coefficients come from the seed alone, so a signature
/// means the same in every run and process.
/// </summary>
internal sealed class MinHasher
{
    private const ulong Prime = (1UL << 61) - 1;

    private readonly ulong[] _a;
    private readonly ulong[] _b;

    public MinHasher(int permutations, long seed)
    {
        _a = new ulong[permutations];
        _b = new ulong[permutations];
        // One increment past the seed, as the coefficients have always been drawn: signatures stay comparable across versions.
        var random = new Distil.Seeding.SplitMix64((ulong)seed + Distil.Seeding.SplitMix64.Gamma);
        for (var i = 0; i < permutations; i++)
        {
            _a[i] = 1 + (random.NextUInt64() % (Prime - 1));
            _b[i] = random.NextUInt64() % Prime;
        }
    }

    public int Permutations => _a.Length;

    /// <summary>Writes the signature of <paramref name="shingles"/> into <paramref name="signature"/> (length <see cref="Permutations"/>).</summary>
    public void Sign(List<ulong> shingles, Span<ulong> signature)
    {
        signature.Fill(ulong.MaxValue);
        foreach (var shingle in shingles)
        {
            var x = Reduce(shingle);
            for (var i = 0; i < signature.Length; i++)
            {
                var h = MulAddMod(_a[i], x, _b[i]);
                if (h < signature[i])
                {
                    signature[i] = h;
                }
            }
        }
    }

    private static ulong Reduce(ulong x)
    {
        var r = (x & Prime) + (x >> 61);
        return r >= Prime ? r - Prime : r;
    }

    /// <summary>(a·x + b) mod 2⁶¹−1 with a, x, b below the prime: a Mersenne modulus folds the high bits back in.</summary>
    private static ulong MulAddMod(ulong a, ulong x, ulong b)
    {
        var product = (UInt128)a * x + b;
        var r = (ulong)(product & Prime) + (ulong)(product >> 61);
        r = (r & Prime) + (r >> 61);
        return r >= Prime ? r - Prime : r;
    }
}

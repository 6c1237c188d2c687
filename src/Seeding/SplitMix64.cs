namespace Distil.Seeding;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood 2014): a 64-bit counter advanced by the golden-ratio increment and passed
/// through a bijective mixer. Every seeded stream and stable hash in Distil goes through here, so that a seed gives
/// the same numbers on every platform and .NET version, which <see cref="System.Random"/> does not promise.
/// </summary>
public struct SplitMix64(ulong state)
{
    /// <summary>The increment: 2⁶⁴ divided by the golden ratio, odd, so the counter visits every value.</summary>
    public const ulong Gamma = 0x9E3779B97F4A7C15UL;

    private ulong _state = state;

    /// <summary>The next value of the stream.</summary>
    public ulong NextUInt64() => Mix(_state += Gamma);

    /// <summary>A value in [0, <paramref name="maxExclusive"/>), by remainder (the bias is below 2⁻³² for an int bound).</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    /// <summary>Uniform in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble() => ToUnitInterval(NextUInt64());

    /// <summary>The first value of a stream started at <paramref name="value"/>: a stateless 64-bit hash.</summary>
    public static ulong Hash(ulong value) => Mix(value + Gamma);

    /// <summary>The output function alone (Stafford's variant 13): spreads every input bit over the whole word.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The top 53 bits of <paramref name="bits"/> as a double in [0, 1).</summary>
    public static double ToUnitInterval(ulong bits) => (bits >> 11) * (1.0 / (1UL << 53));
}

namespace Distil.Judge;

/// <summary>
/// Seeds derived from (run seed, row id, purpose) with SplitMix64, so that a row gets the same seed whether it
/// runs in a fresh run, a resumed run or any shard: nothing depends on batch boundaries or execution order.
/// </summary>
public static class StableSeed
{
    /// <summary>Purposes, so that two uses of the same row never share a random stream.</summary>
    public const long Generation = 0x67656E;
    public const long ResponseOrder = 0x6F7264;
    public const long PairChoice = 0x706169;
    public const long Evolution = 0x65766F;

    /// <summary>A non-negative seed that fits an <see cref="int"/>, which every backend accepts.</summary>
    public static long Derive(long seed, long rowId, long purpose, long index = 0)
    {
        var state = (ulong)seed;
        state = Mix(state ^ Mix((ulong)rowId + 0x9E3779B97F4A7C15UL));
        state = Mix(state ^ Mix((ulong)purpose + 0xBF58476D1CE4E5B9UL));
        state = Mix(state ^ Mix((ulong)index + 0x94D049BB133111EBUL));
        return (long)(state >> 33);
    }

    /// <summary>A small deterministic generator for in-process choices (shuffles, random picks).</summary>
    public static SeededRandom Random(long seed, long rowId, long purpose) => new((ulong)Derive(seed, rowId, purpose) * 0x9E3779B97F4A7C15UL + 1);

    internal static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>SplitMix64: the same sequence on every platform and .NET version, unlike <see cref="System.Random"/>.</summary>
public struct SeededRandom(ulong state)
{
    private ulong _state = state;

    /// <summary>A value in [0, <paramref name="maxExclusive"/>).</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        _state += 0x9E3779B97F4A7C15UL;
        return (int)(StableSeed.Mix(_state) % (ulong)maxExclusive);
    }
}

namespace Distil.Seeding;

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
        state = SplitMix64.Hash(state ^ SplitMix64.Hash((ulong)rowId + SplitMix64.Gamma));
        state = SplitMix64.Hash(state ^ SplitMix64.Hash((ulong)purpose + 0xBF58476D1CE4E5B9UL));
        state = SplitMix64.Hash(state ^ SplitMix64.Hash((ulong)index + 0x94D049BB133111EBUL));
        return (long)(state >> 33);
    }

    /// <summary>A small deterministic generator for in-process choices (shuffles, random picks).</summary>
    /// <remarks>The stream starts one increment past the derived state, as it always has: orders and picks of earlier runs stay as they were.</remarks>
    public static SplitMix64 Random(long seed, long rowId, long purpose) =>
        new((ulong)Derive(seed, rowId, purpose) * SplitMix64.Gamma + 1 + SplitMix64.Gamma);
}

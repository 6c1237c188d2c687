using Distil.Seeding;

namespace Distil.Engine.Text;

/// <summary>
/// xoshiro256** seeded through splitmix64: the same seed gives the same stream on every platform and runtime
/// version, which <see cref="System.Random"/> does not promise.
/// </summary>
public struct SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SeededRandom(ulong seed)
    {
        var splitMix = new SplitMix64(seed);
        _s0 = splitMix.NextUInt64();
        _s1 = splitMix.NextUInt64();
        _s2 = splitMix.NextUInt64();
        _s3 = splitMix.NextUInt64();
    }

    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble() => SplitMix64.ToUnitInterval(NextUInt64());
}

using Distil.Seeding;

namespace Distil.Engine.Tests;

/// <summary>The one SplitMix64 every seeded stream in Distil uses, held to the reference algorithm's published outputs.</summary>
public sealed class SplitMix64Tests
{
    [Fact]
    public void Stream_matches_the_reference_outputs_for_seed_1234567()
    {
        // The first outputs of Vigna's splitmix64.c seeded with 1234567 (the Rosetta Code "Splitmix64" task).
        var random = new SplitMix64(1234567);
        ulong[] expected = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];

        Assert.Equal(expected, Enumerable.Range(0, expected.Length).Select(_ => random.NextUInt64()).ToArray());
    }

    [Fact]
    public void Hash_is_the_first_output_of_a_stream_started_at_its_input()
    {
        foreach (var value in new ulong[] { 0, 1, 1234567, ulong.MaxValue })
        {
            var random = new SplitMix64(value);
            Assert.Equal(random.NextUInt64(), SplitMix64.Hash(value));
        }
    }

    [Fact]
    public void Bounded_draws_and_unit_doubles_stay_in_range()
    {
        var random = new SplitMix64(42);
        for (var i = 0; i < 1000; i++)
        {
            Assert.InRange(random.Next(7), 0, 6);
            Assert.InRange(random.NextDouble(), 0.0, Math.BitDecrement(1.0));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => new SplitMix64(1).Next(0));
    }
}

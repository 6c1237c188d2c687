using Distil.Server.Jobs;

namespace Distil.Server.Tests;

/// <summary>Shards cover every input row exactly once, in order.</summary>
public sealed class ShardPlannerTests
{
    [Theory]
    [InlineData(0, 10, 1)]
    [InlineData(1, 10, 1)]
    [InlineData(100, 25, 4)]
    [InlineData(101, 25, 5)]
    [InlineData(1_000_000, 500, 2000)]
    public void Shards_cover_every_row_once_in_order(long rows, int size, int expected)
    {
        var shards = ShardPlanner.Plan(rows, size);

        Assert.Equal(expected, shards.Count);
        Assert.Equal(Enumerable.Range(0, expected), shards.Select(s => s.Index));
        Assert.Equal(0, shards[0].Offset);
        for (var i = 1; i < shards.Count; i++)
        {
            Assert.Equal(shards[i - 1].Offset + shards[i - 1].Limit, shards[i].Offset);
        }

        Assert.True(shards[^1].Offset + shards[^1].Limit >= rows);
        Assert.True(shards[^1].Offset < Math.Max(1, rows));
    }

    [Fact]
    public void Shard_size_below_one_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ShardPlanner.Plan(10, 0));
}

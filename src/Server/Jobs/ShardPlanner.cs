using Distil.Pipeline;
using Distil.Server.Storage;

namespace Distil.Server.Jobs;

/// <summary>Cuts a run's input into shards: consecutive row ranges of the source, in source order.</summary>
internal static class ShardPlanner
{
    public static IReadOnlyList<ShardRange> Plan(long rows, int shardSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardSize, 1);
        var count = Math.Max(1, (int)((rows + shardSize - 1) / shardSize));
        return Enumerable.Range(0, count).Select(i => new ShardRange(i, (long)i * shardSize, shardSize)).ToList();
    }

    /// <summary>
    /// Rows the run reads: the largest source (a definition with several sources reads the same range from each).
    /// Streams the source once, holding no rows.
    /// </summary>
    public static async Task<long> CountRowsAsync(PipelineDefinition definition, CancellationToken cancellationToken)
    {
        long largest = 0;
        foreach (var step in definition.Steps.Where(s => s.Step is ISourceStep))
        {
            var source = (ISourceStep)step.Step;
            if (source is ICountableSource countable && await countable.CountAsync(cancellationToken) is { } known)
            {
                largest = Math.Max(largest, known);
                continue;
            }

            var context = new PlanningContext(step.Name);
            long count = 0;
            await foreach (var _ in source.ReadAsync(SourceRange.All, context, cancellationToken))
            {
                count++;
            }

            largest = Math.Max(largest, count);
        }

        return largest;
    }
}

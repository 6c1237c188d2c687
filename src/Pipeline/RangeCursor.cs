namespace Distil.Pipeline;

/// <summary>Where a record stands against the <see cref="SourceRange"/> a source reads.</summary>
public enum RangePosition
{
    /// <summary>Before the range's offset: skip it.</summary>
    Before,

    /// <summary>Inside the range: emit it (already counted).</summary>
    Inside,

    /// <summary>The range's limit is reached: stop reading.</summary>
    After,
}

/// <summary>
/// Walks a source's records against its range, so that every loader slices shards and <c>--limit</c> the same way.
/// </summary>
/// <remarks>A class, not a struct, so that one cursor can count across several inputs (a dataset's files) read by
/// async iterators, which cannot take it by reference.</remarks>
public sealed class RangeCursor(SourceRange range)
{
    private long _emitted;

    /// <summary>True once the range's limit is reached: a source may stop before opening more input.</summary>
    public bool IsFull => range.Limit is { } limit && _emitted >= limit;

    /// <summary>Classifies record number <paramref name="record"/> (0-based position in the source); counts it when inside.</summary>
    public RangePosition Admit(long record)
    {
        if (record < range.Offset)
        {
            return RangePosition.Before;
        }

        if (range.Limit is { } limit && _emitted >= limit)
        {
            return RangePosition.After;
        }

        _emitted++;
        return RangePosition.Inside;
    }

    /// <summary>The rows of <paramref name="rows"/> inside the range, stopping at its limit (rows carry their record number as id).</summary>
    public async IAsyncEnumerable<Row> AdmitAsync(IAsyncEnumerable<Row> rows, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            switch (Admit(row.Id))
            {
                case RangePosition.Before:
                    continue;
                case RangePosition.After:
                    yield break;
                default:
                    yield return row;
                    break;
            }
        }
    }
}

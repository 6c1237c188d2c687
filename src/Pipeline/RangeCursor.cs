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
    public IAsyncEnumerable<Row> AdmitAsync(IAsyncEnumerable<Row> rows, CancellationToken cancellationToken = default) =>
        WithinAsync(rows.Select(row => (row, row.Id)), cancellationToken).Select(admitted => admitted.Record);

    /// <summary>
    /// The records of <paramref name="records"/> inside the range, each with its record number (its 0-based position
    /// in <paramref name="records"/>), stopping at the range's limit.
    /// </summary>
    public IAsyncEnumerable<(T Record, long Number)> AdmitInOrderAsync<T>(IAsyncEnumerable<T> records, CancellationToken cancellationToken = default) =>
        WithinAsync(records.Select((record, index) => (record, (long)index)), cancellationToken);

    private async IAsyncEnumerable<(T Record, long Number)> WithinAsync<T>(
        IAsyncEnumerable<(T Record, long Number)> numbered, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var item in numbered.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            switch (Admit(item.Number))
            {
                case RangePosition.Before:
                    continue;
                case RangePosition.After:
                    yield break;
                default:
                    yield return item;
                    break;
            }
        }
    }
}

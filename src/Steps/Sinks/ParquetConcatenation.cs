namespace Distil.Steps;

/// <summary>
/// One Parquet dataset from the files several processes wrote for consecutive slices of it (a service run's
/// shards): every row decoded and written again, in order, through the writer a single process uses, with the
/// writing sink's row group size. The row groups then fall where one process would have put them and the schema is
/// inferred from the same first group, so the file has the bytes a single-process run of the same rows writes —
/// which copying each slice's row groups would not give. Memory is bounded by one row group on each side.
/// </summary>
public static class ParquetConcatenation
{
    /// <param name="parts">The slices in order; at least one (an empty slice still carries the schema).</param>
    public static async Task WriteAsync(IReadOnlyList<string> parts, string destination, int rowGroupSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts.Count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupSize, 1);
        var layouts = new List<ParquetLayout>(parts.Count);
        foreach (var part in parts)
        {
            layouts.Add(await ParquetRows.ReadLayoutAsync(part, wanted: null, stepName: "merge", cancellationToken));
        }

        if (layouts.All(l => l.Rows == 0))
        {
            // No rows anywhere: the first slice is what one process writes for an empty dataset (its sink's columns).
            File.Copy(parts[0], destination, overwrite: true);
            return;
        }

        await using var writer = new ParquetRowWriter(destination, rowGroupSize, $"merging {Path.GetFileName(destination)}");
        writer.Open();
        long id = 0;
        for (var i = 0; i < parts.Count; i++)
        {
            await foreach (var row in ParquetRows.ReadAsync(parts[i], layouts[i], firstId: id, skipBefore: 0, cancellationToken))
            {
                await writer.AddAsync(row.Id, row.Values, cancellationToken);
            }

            id += layouts[i].Rows;
        }

        await writer.CompleteAsync(() => throw new InvalidOperationException("rows were written, so the schema is known"), cancellationToken);
    }
}

/// <summary>A sink that writes Parquet files row group by row group: which files, and how many rows per group.</summary>
public interface IParquetFileSink
{
    /// <summary><c>row_group_size</c> of the files this sink writes.</summary>
    int RowGroupSize { get; }

    /// <summary>Whether this sink writes <paramref name="relativePath"/> (relative to the output folder, '/' separated).</summary>
    bool Writes(string relativePath);
}

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
        await using var writer = new ParquetRowWriter(destination, rowGroupSize, $"merging {Path.GetFileName(destination)}");
        writer.Open();
        long id = 0;
        foreach (var part in parts)
        {
            var layout = await ParquetRows.ReadLayoutAsync(part, wanted: null, stepName: "merge", cancellationToken);
            await foreach (var row in ParquetRows.ReadAsync(part, layout, firstId: id, skipBefore: 0, cancellationToken))
            {
                await writer.AddAsync(row.Id, row.Values, cancellationToken);
            }

            id += layout.Rows;
        }

        // No slice had a row: keep the first slice's columns (its schema was written for an empty dataset too).
        await writer.CompleteAsync(() => EmptySchemaOf(parts[0]), cancellationToken);
    }

    private static ParquetRowSchema EmptySchemaOf(string part) =>
        ParquetRowSchema.AllStrings(ParquetRows.ReadFieldsAsync(part, CancellationToken.None).GetAwaiter().GetResult());
}

/// <summary>A sink that writes Parquet files row group by row group: which files, and how many rows per group.</summary>
public interface IParquetFileSink
{
    /// <summary><c>row_group_size</c> of the files this sink writes.</summary>
    int RowGroupSize { get; }

    /// <summary>Whether this sink writes <paramref name="relativePath"/> (relative to the output folder, '/' separated).</summary>
    bool Writes(string relativePath);
}

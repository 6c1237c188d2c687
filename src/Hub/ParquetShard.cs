using System.Reflection;
using Parquet;
using Parquet.Schema;

namespace Distil.Hub;

/// <summary>
/// One Parquet file of the published dataset. A source whose row groups are all small enough is used
/// as it is; otherwise it is rewritten with the same schema, values and key/value metadata but row
/// groups of at most a given number of rows, one source row group at a time (never the whole file).
/// </summary>
internal static class ParquetShard
{
    private static readonly MethodInfo SplitColumnMethod =
        typeof(ParquetShard).GetMethod(nameof(SplitColumnAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>Rows and the largest row group of a Parquet file, read from its footer only.</summary>
    public static async Task<(long Rows, long LargestRowGroup, ParquetSchema Schema)> InspectAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var reader = await ParquetReader.CreateAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false);
            var groups = reader.RowGroups.Select(g => g.RowCount).ToList();
            return (groups.Sum(), groups.Count == 0 ? 0 : groups.Max(), reader.Schema);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new HubPublishException($"{path}: not a readable Parquet file: {e.Message}", e);
        }
    }

    /// <summary>Writes <paramref name="source"/> to <paramref name="destination"/> with row groups of at most <paramref name="maxRows"/> rows.</summary>
    public static async Task ResplitAsync(string source, string destination, int maxRows, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        var temp = destination + ".partial";
        await using (var reader = await ParquetReader.CreateAsync(source, cancellationToken: cancellationToken).ConfigureAwait(false))
        await using (var output = File.Create(temp))
        {
            var fields = reader.Schema.GetDataFields();
            await using var writer = await ParquetWriter.CreateAsync(reader.Schema, output, cancellationToken: cancellationToken).ConfigureAwait(false);
            writer.CustomMetadata = reader.CustomMetadata;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                var rows = group.RowCount;
                var chunks = (int)Math.Max(1, (rows + maxRows - 1) / maxRows);

                // A column split into row ranges; all columns of a source row group are held together because
                // each output row group must be written column after column.
                var columns = new List<ColumnChunks>(fields.Length);
                foreach (var field in fields)
                {
                    var task = (Task<ColumnChunks>)SplitColumnMethod.MakeGenericMethod(field.ClrType)
                        .Invoke(null, [group, field, maxRows, cancellationToken])!;
                    columns.Add(await task.ConfigureAwait(false));
                }

                for (var c = 0; c < chunks; c++)
                {
                    using var rowGroup = writer.CreateRowGroup();
                    foreach (var column in columns)
                    {
                        await column.WriteChunkAsync(rowGroup, c, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }

        File.Move(temp, destination, overwrite: true);
    }

    private static async Task<ColumnChunks> SplitColumnAsync<T>(ParquetRowGroupReader group, DataField field, int maxRows, CancellationToken cancellationToken)
        where T : struct
    {
        var entries = checked((int)group.GetMetadata(field)!.MetaData!.NumValues);
        var values = new T[entries];
        var definitions = new int[entries];
        var repetitions = new int[entries];
        await group.ReadRawAsync<T>(field, values, definitions, repetitions, cancellationToken).ConfigureAwait(false);
        return new ColumnChunks<T>(field, values, definitions, repetitions, entries, maxRows);
    }

    private abstract class ColumnChunks
    {
        public abstract Task WriteChunkAsync(ParquetRowGroupWriter writer, int chunk, CancellationToken cancellationToken);
    }

    /// <summary>
    /// The entries of one column cut at row boundaries: a row starts where the repetition level is 0
    /// (every entry, for a non-repeated column); a value exists only where the definition level is the maximum.
    /// </summary>
    private sealed class ColumnChunks<T> : ColumnChunks
        where T : struct
    {
        private readonly DataField _field;
        private readonly T[] _values;
        private readonly int[] _definitions;
        private readonly int[] _repetitions;
        private readonly List<(int EntryStart, int EntryEnd, int ValueStart, int ValueEnd)> _chunks = [];

        /// <param name="definitions">Definition levels (all 0 for a required column).</param>
        /// <param name="repetitions">Repetition levels (all 0 for a column outside any list).</param>
        public ColumnChunks(DataField field, T[] values, int[] definitions, int[] repetitions, int entries, int maxRows)
        {
            _field = field;
            _values = values;
            _definitions = definitions;
            _repetitions = repetitions;
            int entryStart = 0, valueStart = 0, valueIndex = 0, rowsInChunk = 0;
            for (var i = 0; i < entries; i++)
            {
                var startsRow = repetitions[i] == 0;
                if (startsRow && rowsInChunk == maxRows)
                {
                    _chunks.Add((entryStart, i, valueStart, valueIndex));
                    entryStart = i;
                    valueStart = valueIndex;
                    rowsInChunk = 0;
                }

                if (startsRow)
                {
                    rowsInChunk++;
                }

                if (definitions[i] == field.MaxDefinitionLevel)
                {
                    valueIndex++;
                }
            }

            _chunks.Add((entryStart, entries, valueStart, valueIndex));
        }

        public override Task WriteChunkAsync(ParquetRowGroupWriter writer, int chunk, CancellationToken cancellationToken)
        {
            var (entryStart, entryEnd, valueStart, valueEnd) = chunk < _chunks.Count ? _chunks[chunk] : (0, 0, 0, 0);
            return writer.WriteAllPartsAsync<T>(
                _field,
                _values.AsMemory(valueStart, valueEnd - valueStart),
                _definitions.AsMemory(entryStart, entryEnd - entryStart),
                _repetitions.AsMemory(entryStart, entryEnd - entryStart),
                cancellationToken);
        }
    }
}

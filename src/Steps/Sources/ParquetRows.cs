using System.Runtime.CompilerServices;
using Distil.Pipeline;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Distil.Steps;

/// <summary>
/// A Parquet file's row groups (their row counts), the columns a loader takes from it, and which of those are
/// lists (whose empty values need a second look at the row group, see <c>EmptyListsAsync</c>).
/// </summary>
internal sealed record ParquetLayout(IReadOnlyList<long> GroupRows, IReadOnlyList<string> Columns, IReadOnlyList<string> ListColumns)
{
    public long Rows => GroupRows.Sum();
}

/// <summary>
/// Reads rows out of a Parquet file one row group at a time (memory bounded by the largest row group),
/// converting values to row values (INT32 → long, FLOAT → double, lists → lists, structs → dictionaries).
/// Shared by every loader that reads Parquet (load_parquet, load_hub).
/// </summary>
internal static class ParquetRows
{
    /// <summary>Reads the footer. <paramref name="wanted"/> (null: all) must all be in the file, else the error names them.</summary>
    public static async Task<ParquetLayout> ReadLayoutAsync(string path, IReadOnlyList<string>? wanted, string stepName, CancellationToken cancellationToken)
    {
        await using var reader = await OpenAsync(path, cancellationToken);
        var names = reader.Schema.Fields.Select(f => f.Name).ToList();
        var missing = wanted?.Where(c => !names.Contains(c)).ToList();
        if (missing is { Count: > 0 })
        {
            throw new PipelineDefinitionException($"column(s) {string.Join(", ", missing)} listed in 'columns' of step '{stepName}' are not in the file (it has: {string.Join(", ", names)})", path);
        }

        var columns = names.Where(c => wanted is null || wanted.Contains(c)).ToList();
        return new ParquetLayout(
            reader.Metadata!.RowGroups.Select(g => g.NumRows).ToList(),
            columns,
            reader.Schema.Fields.OfType<ListField>().Select(l => l.Name).Where(columns.Contains).ToList());
    }

    /// <summary>The names of the file's top-level columns, from its footer.</summary>
    public static async Task<IReadOnlyList<string>> ReadFieldsAsync(string path, CancellationToken cancellationToken)
    {
        await using var reader = await OpenAsync(path, cancellationToken);
        return reader.Schema.Fields.Select(f => f.Name).ToList();
    }

    /// <summary>The number of rows the footer declares.</summary>
    public static async Task<long> CountAsync(string path, CancellationToken cancellationToken)
    {
        await using var reader = await OpenAsync(path, cancellationToken);
        return reader.Metadata!.NumRows;
    }

    /// <summary>
    /// Every row of the file in order, row i with id <paramref name="firstId"/> + i, except that row groups
    /// wholly before id <paramref name="skipBefore"/> are not read at all (a shard's offset).
    /// </summary>
    public static async IAsyncEnumerable<Row> ReadAsync(string path, ParquetLayout layout, long firstId, long skipBefore, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var groupStart = firstId;
        for (var group = 0; group < layout.GroupRows.Count; group++)
        {
            var start = groupStart;
            groupStart += layout.GroupRows[group];
            if (groupStart <= skipBefore)
            {
                continue;
            }

            var data = await ReadGroupAsync(path, group, s => ParquetSerializer.DeserializeUntypedAsync(s, new ParquetOptions(), group, cancellationToken), cancellationToken);
            var emptyLists = layout.ListColumns.Count == 0
                ? []
                : await EmptyListsAsync(path, group, layout.ListColumns, cancellationToken);
            for (var i = 0; i < data.Data.Count; i++)
            {
                // The untyped reader leaves null values out; every row carries every column.
                var row = new Row(start + i);
                foreach (var column in layout.Columns)
                {
                    row[column] = data.Data[i].TryGetValue(column, out var value) ? ToRowValue(value) : null;
                    if (row[column] is null && emptyLists.TryGetValue(column, out var empty) && empty[i])
                    {
                        row[column] = new List<object?>();
                    }
                }

                yield return row;
            }
        }
    }

    /// <summary>
    /// Which rows of a row group hold an empty (not null) list, per top-level list column. Parquet.Net's untyped
    /// reader returns both as null; the definition level of each row's first entry tells them apart: below the
    /// list node's level the list is null, at it the list is present with no element, above it it has elements.
    /// </summary>
    private static async Task<Dictionary<string, bool[]>> EmptyListsAsync(string path, int group, IReadOnlyList<string> listColumns, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        await using var reader = await OpenAsync(path, cancellationToken);
        var lists = reader.Schema.Fields.OfType<ListField>().Where(l => listColumns.Contains(l.Name)).ToList();

        using var rowGroup = reader.OpenRowGroupReader(group);
        foreach (var list in lists)
        {
            if (FirstLeaf(list.Item) is not { } leaf)
            {
                continue;
            }

            using var raw = await rowGroup.ReadRawColumnDataBaseAsync(leaf, cancellationToken);
            var definitions = raw.DefinitionLevels;
            var repetitions = raw.RepetitionLevels;
            var empty = new bool[rowGroup.RowCount];
            var row = -1;
            for (var i = 0; i < definitions.Length; i++)
            {
                if (repetitions[i] == 0 && ++row < empty.Length)
                {
                    // Parquet.Net counts the repeated group in the list's level: one below it, the list exists but is empty.
                    empty[row] = definitions[i] == list.MaxDefinitionLevel - 1;
                }
            }

            result[list.Name] = empty;
        }

        return result;
    }

    private static DataField? FirstLeaf(Field field) => field switch
    {
        DataField data => data,
        StructField structure => structure.Fields.Select(FirstLeaf).FirstOrDefault(f => f is not null),
        ListField list => FirstLeaf(list.Item),
        MapField map => FirstLeaf(map.Key),
        _ => null,
    };

    private static async Task<ParquetReader> OpenAsync(string path, CancellationToken cancellationToken)
    {
        if (ParquetDamage.Describe(path) is { } damage)
        {
            throw new PipelineDefinitionException($"not a readable Parquet file: {damage}", path);
        }

        try
        {
            return await ParquetReader.CreateAsync(path, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OutOfMemoryException)
        {
            throw new PipelineDefinitionException($"not a readable Parquet file: its footer (the schema and the index of row groups) is damaged ({e.GetType().Name}: {Cut(e.Message)})", path, inner: e);
        }
    }

    private static async Task<T> ReadGroupAsync<T>(string path, int group, Func<Stream, Task<T>> read, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            return await read(stream);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not (OutOfMemoryException or PipelineDefinitionException))
        {
            throw new PipelineDefinitionException($"row group {group} of the Parquet file is damaged and cannot be read ({e.GetType().Name}: {Cut(e.Message)})", path, inner: e);
        }
    }

    private static string Cut(string message) => message.Length <= 200 ? message : message[..200] + "…";

    /// <summary>Parquet.Net's untyped values, narrowed to the value types rows hold.</summary>
    internal static object? ToRowValue(object? value) => value switch
    {
        null => null,
        string s => s,
        ReadOnlyMemory<char> m => m.ToString(),
        long or bool or double => value,
        int i => (long)i,
        short s => (long)s,
        sbyte s => (long)s,
        byte b => (long)b,
        float f => (double)f,
        decimal d => (double)d,
        DateTime t => t.ToString("O"),
        byte[] bytes => Convert.ToBase64String(bytes),
        System.Collections.IDictionary dict => ToStruct(dict),
        System.Collections.IEnumerable list => list.Cast<object?>().Select(ToRowValue).ToList(),
        _ => value.ToString(),
    };

    private static Dictionary<string, object?> ToStruct(System.Collections.IDictionary dict)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in dict)
        {
            result[entry.Key.ToString()!] = ToRowValue(entry.Value);
        }

        return result;
    }
}

using System.Runtime.CompilerServices;
using Distil.Pipeline;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Distil.Steps;

/// <summary>
/// load_parquet: reads one row group at a time (memory bounded by the largest row group), converting values
/// to row values (INT32 → long, FLOAT → double, lists → lists, structs → dictionaries). Its columns are known
/// before running only if listed in <c>columns</c> (reading the schema needs the file's footer, which is read
/// when the run starts); without it, later steps' column needs are checked when rows arrive.
/// </summary>
internal sealed class ParquetSource : ISourceStep, ICountableSource
{
    private readonly string _path;
    private readonly IReadOnlyList<string>? _columns;

    public ParquetSource(StepParameters parameters)
    {
        Name = parameters.Name;
        _path = InputErrorPolicies.RequireExistingFile(parameters);
        _columns = parameters.GetStringList("columns");
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => _columns ?? [];

    public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => RunFingerprint.OfFileAsync(_path, cancellationToken);

    public async ValueTask<long?> CountAsync(CancellationToken cancellationToken)
    {
        await using var reader = await OpenAsync(cancellationToken);
        return reader.Metadata!.NumRows;
    }

    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        IReadOnlyList<long> groupRows;
        IReadOnlyList<string> columns;
        await using (var reader = await OpenAsync(cancellationToken))
        {
            groupRows = reader.Metadata!.RowGroups.Select(g => g.NumRows).ToList();
            columns = reader.Schema.Fields.Select(f => f.Name).Where(c => _columns is null || _columns.Contains(c)).ToList();
            var missing = _columns?.Where(c => !reader.Schema.Fields.Any(f => f.Name == c)).ToList();
            if (missing is { Count: > 0 })
            {
                throw new PipelineDefinitionException($"column(s) {string.Join(", ", missing)} listed in 'columns' of step '{Name}' are not in the file (it has: {string.Join(", ", reader.Schema.Fields.Select(f => f.Name))})", _path);
            }
        }

        long first = 0;
        var cursor = new RangeCursor(range);
        for (var group = 0; group < groupRows.Count; group++)
        {
            var start = first;
            first += groupRows[group];
            if (first <= range.Offset)
            {
                continue;
            }

            await using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            var data = await ParquetSerializer.DeserializeUntypedAsync(stream, new ParquetOptions(), group, cancellationToken);
            var emptyLists = await EmptyListsAsync(group, columns, cancellationToken);
            for (var i = 0; i < data.Data.Count; i++)
            {
                var id = start + i;
                var position = cursor.Admit(id);
                if (position == RangePosition.Before)
                {
                    continue;
                }

                if (position == RangePosition.After)
                {
                    yield break;
                }

                // The untyped reader leaves null values out; every row carries every column.
                var row = new Row(id);
                foreach (var column in columns)
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
    private async Task<Dictionary<string, bool[]>> EmptyListsAsync(int group, IReadOnlyList<string> columns, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        await using var reader = await OpenAsync(cancellationToken);
        var lists = reader.Schema.Fields.OfType<ListField>().Where(l => columns.Contains(l.Name)).ToList();
        if (lists.Count == 0)
        {
            return result;
        }

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

    private async Task<ParquetReader> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ParquetReader.CreateAsync(_path, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException)
        {
            throw new PipelineDefinitionException($"not a readable Parquet file: {e.Message}", _path, inner: e);
        }
    }

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

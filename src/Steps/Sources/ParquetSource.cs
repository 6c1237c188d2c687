using System.Runtime.CompilerServices;
using Distil.Pipeline;
using Parquet;
using Parquet.Serialization;

namespace Distil.Steps;

/// <summary>
/// load_parquet: reads one row group at a time (memory bounded by the largest row group), converting values
/// to row values (INT32 → long, FLOAT → double, lists → lists, structs → dictionaries). The file's footer (its
/// schema) is read when the definition is checked, so a column a later step needs and the file lacks, or a damaged
/// file, is reported by validate, before anything runs.
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
        // Steps are built synchronously (StepType.Create); the footer is a few kB, read once.
        var fields = Task.Run(() => ReadFieldsAsync(CancellationToken.None)).GetAwaiter().GetResult();
        var missing = _columns?.Where(c => !fields.Contains(c)).ToList();
        if (missing is { Count: > 0 })
        {
            throw parameters.Error("columns", $"column(s) {string.Join(", ", missing)} listed in 'columns' of step '{Name}' are not in {_path} (it has: {string.Join(", ", fields)})");
        }

        _columns ??= fields;
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => _columns!;

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

            var data = await ReadGroupAsync(group, s => ParquetSerializer.DeserializeUntypedAsync(s, new ParquetOptions(), group, cancellationToken), cancellationToken);
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
                }

                yield return row;
            }
        }
    }

    private async Task<IReadOnlyList<string>> ReadFieldsAsync(CancellationToken cancellationToken)
    {
        await using var reader = await OpenAsync(cancellationToken);
        return reader.Schema.Fields.Select(f => f.Name).ToList();
    }

    private async Task<ParquetReader> OpenAsync(CancellationToken cancellationToken)
    {
        if (ParquetDamage.Describe(_path) is { } damage)
        {
            throw new PipelineDefinitionException($"not a readable Parquet file: {damage}", _path);
        }

        try
        {
            return await ParquetReader.CreateAsync(_path, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OutOfMemoryException)
        {
            throw new PipelineDefinitionException($"not a readable Parquet file: its footer (the schema and the index of row groups) is damaged ({e.GetType().Name}: {Cut(e.Message)})", _path, inner: e);
        }
    }

    private async Task<T> ReadGroupAsync<T>(int group, Func<Stream, Task<T>> read, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            return await read(stream);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not (OutOfMemoryException or PipelineDefinitionException))
        {
            throw new PipelineDefinitionException($"row group {group} of the Parquet file is damaged and cannot be read ({e.GetType().Name}: {Cut(e.Message)})", _path, inner: e);
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

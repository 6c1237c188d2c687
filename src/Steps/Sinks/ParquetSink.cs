using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// write_parquet: streams rows into row groups of <c>row_group_size</c> rows in a temporary file, renamed into
/// place when the run completes, so a reader never sees a half-written dataset. The schema comes from the
/// first row group (see <see cref="ParquetRowSchema"/>); <c>columns</c> optionally picks and orders columns.
/// </summary>
internal sealed class ParquetSink : ISinkStep, IAsyncDisposable, IParquetFileSink
{
    private readonly string _fileName;
    private readonly int _rowGroupSize;
    private readonly IReadOnlyList<string>? _columns;
    private ParquetRowWriter? _writer;
    private IReadOnlyList<string>? _knownColumns;

    public ParquetSink(StepParameters parameters)
    {
        Name = parameters.Name;
        _fileName = parameters.GetOutputFileName("path", $"{parameters.Name}.parquet");
        _rowGroupSize = parameters.GetInt32("row_group_size", 10_000);
        if (_rowGroupSize < 1)
        {
            throw parameters.Error("row_group_size", "'row_group_size' must be at least 1");
        }

        _columns = parameters.GetStringList("columns");
    }

    public string Name { get; }

    /// <summary>Where the file goes, relative to the run's output folder.</summary>
    internal string FileName => _fileName;

    public int RowGroupSize => _rowGroupSize;

    public bool Writes(string relativePath) => string.Equals(relativePath, _fileName.Replace('\\', '/'), StringComparison.Ordinal);

    public IReadOnlyList<string> InputColumns => _columns ?? [];

    public IReadOnlyList<string> OutputColumns => [];

    public ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken)
    {
        _knownColumns = sink.Columns;
        _writer = new ParquetRowWriter(Path.Combine(sink.OutputDirectory, _fileName), _rowGroupSize, $"write_parquet '{Name}'");
        _writer.Open();
        return ValueTask.CompletedTask;
    }

    public async ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            await _writer!.AddAsync(row.Id, Select(row), cancellationToken);
        }
    }

    public async ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken)
    {
        await _writer!.CompleteAsync(EmptySchema, cancellationToken);
        return [_writer.Path];
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }
    }

    private IReadOnlyDictionary<string, object?> Select(Row row)
    {
        if (_columns is null)
        {
            var values = new Dictionary<string, object?>(row.Values, StringComparer.Ordinal);
            values.Remove(Row.ErrorColumn);
            return values;
        }

        return _columns.ToDictionary(c => c, c => row[c], StringComparer.Ordinal);
    }

    /// <summary>
    /// No row reached the sink (every row errored, or a filter kept none): the file still gets the columns the
    /// graph knows arrive here, so readers of an empty dataset see its shape. Their types are not known without
    /// a value, so each is a nullable string.
    /// </summary>
    private ParquetRowSchema EmptySchema()
    {
        var columns = _columns ?? _knownColumns;
        if (columns is null || columns.Count == 0)
        {
            throw new InvalidDataException(
                $"write_parquet '{Name}' ({_writer!.Path}): no rows reached it and the columns that would reach it are not known before reading, " +
                "so there is no schema to write; list them in 'columns' to get an empty file");
        }

        return ParquetRowSchema.AllStrings(columns);
    }
}

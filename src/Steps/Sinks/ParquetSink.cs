using Distil.Pipeline;
using Parquet;
using Parquet.Serialization;

namespace Distil.Steps;

/// <summary>
/// write_parquet: streams rows into row groups of <c>row_group_size</c> rows in a temporary file, renamed into
/// place when the run completes, so a reader never sees a half-written dataset. The schema comes from the
/// first row group (see <see cref="ParquetRowSchema"/>); <c>columns</c> optionally picks and orders columns.
/// </summary>
internal sealed class ParquetSink : ISinkStep, IAsyncDisposable
{
    private readonly string _fileName;
    private readonly int _rowGroupSize;
    private readonly IReadOnlyList<string>? _columns;
    private readonly List<(long Id, IReadOnlyDictionary<string, object?> Values)> _pending = [];
    private string? _path;
    private FileStream? _stream;
    private ParquetRowSchema? _schema;
    private IReadOnlyList<string>? _knownColumns;
    private bool _wroteGroup;

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

    public IReadOnlyList<string> InputColumns => _columns ?? [];

    public IReadOnlyList<string> OutputColumns => [];

    public ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken)
    {
        _knownColumns = sink.Columns;
        _path = Path.GetFullPath(Path.Combine(sink.OutputDirectory, _fileName));
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _stream = new FileStream(AtomicFile.TempPathFor(_path), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        return ValueTask.CompletedTask;
    }

    public async ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            _pending.Add((row.Id, Select(row)));
            if (_pending.Count == _rowGroupSize)
            {
                await FlushAsync(cancellationToken);
            }
        }
    }

    public async ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count > 0)
        {
            await FlushAsync(cancellationToken);
        }
        else if (!_wroteGroup)
        {
            await WriteEmptyAsync(cancellationToken);
        }

        await _stream!.FlushAsync(cancellationToken);
        _stream.Flush(flushToDisk: true);
        await _stream.DisposeAsync();
        _stream = null;
        File.Move(AtomicFile.TempPathFor(_path!), _path!, overwrite: true);
        return [_path!];
    }

    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync();
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
    private async Task WriteEmptyAsync(CancellationToken cancellationToken)
    {
        var columns = _columns ?? _knownColumns;
        if (columns is null || columns.Count == 0)
        {
            throw new InvalidDataException(
                $"write_parquet '{Name}' ({_path}): no rows reached it and the columns that would reach it are not known before reading, " +
                "so there is no schema to write; list them in 'columns' to get an empty file");
        }

        _schema = ParquetRowSchema.AllStrings(columns);
        await ParquetSerializer.SerializeUntypedAsync([], _schema.Schema, _stream!, cancellationToken: cancellationToken);
        _wroteGroup = true;
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            _schema ??= ParquetRowSchema.Infer(_pending.Select(p => p.Values).ToList());
            var group = _pending.Select(p => (IDictionary<string, object?>)_schema.ToParquet(p.Values, p.Id)).ToList();
            await ParquetSerializer.SerializeUntypedAsync(group!, _schema.Schema, _stream!, new ParquetOptions { Append = _wroteGroup }, cancellationToken: cancellationToken);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"write_parquet '{Name}' ({_path}): {e.Message}", e);
        }

        _wroteGroup = true;
        _pending.Clear();
    }
}

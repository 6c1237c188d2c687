using System.Text.Json;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>write_jsonl: one JSON object per row, streamed into a temporary file renamed into place at the end.</summary>
internal sealed class JsonlSink : ISinkStep, IAsyncDisposable
{
    private readonly string _fileName;
    private readonly IReadOnlyList<string>? _columns;
    private string? _path;
    private FileStream? _stream;
    private Utf8JsonWriter? _writer;

    public JsonlSink(StepParameters parameters)
    {
        Name = parameters.Name;
        _fileName = parameters.GetOutputFileName("path", $"{parameters.Name}.jsonl");
        _columns = parameters.GetStringList("columns");
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => _columns ?? [];

    public IReadOnlyList<string> OutputColumns => [];

    public ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken)
    {
        _path = Path.GetFullPath(Path.Combine(sink.OutputDirectory, _fileName));
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _stream = new FileStream(AtomicFile.TempPathFor(_path), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        _writer = new Utf8JsonWriter(_stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        return ValueTask.CompletedTask;
    }

    public async ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            _writer!.WriteStartObject();
            foreach (var column in _columns ?? row.Columns.Where(c => c != Row.ErrorColumn).ToList())
            {
                _writer.WritePropertyName(column);
                RowJson.WriteValue(_writer, row[column]);
            }

            _writer.WriteEndObject();
            await _writer.FlushAsync(cancellationToken);
            _stream!.WriteByte((byte)'\n');
            _writer.Reset();
        }
    }

    public async ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken)
    {
        await _writer!.FlushAsync(cancellationToken);
        await _stream!.FlushAsync(cancellationToken);
        _stream.Flush(flushToDisk: true);
        await DisposeAsync();
        File.Move(AtomicFile.TempPathFor(_path!), _path!, overwrite: true);
        return [_path!];
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
            _writer = null;
        }

        if (_stream is not null)
        {
            await _stream.DisposeAsync();
            _stream = null;
        }
    }
}

using Distil.Pipeline;
using Parquet;
using Parquet.Serialization;

namespace Distil.Steps;

/// <summary>
/// Streams rows into one Parquet file, <c>row_group_size</c> rows per row group, through a temporary file that
/// is renamed into place by <see cref="CompleteAsync"/>. The schema is fixed by the first row group (see
/// <see cref="ParquetRowSchema"/>). Errors name <paramref name="owner"/> and the file.
/// </summary>
internal sealed class ParquetRowWriter(string path, int rowGroupSize, string owner) : IAsyncDisposable
{
    private readonly List<(long Id, IReadOnlyDictionary<string, object?> Values)> _pending = [];
    private FileStream? _stream;
    private bool _wroteGroup;

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>The schema once a row group has been written; null before.</summary>
    public ParquetRowSchema? Schema { get; private set; }

    public long Rows { get; private set; }

    public void Open()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _stream = new FileStream(AtomicFile.TempPathFor(Path), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16);
    }

    public async ValueTask AddAsync(long id, IReadOnlyDictionary<string, object?> values, CancellationToken cancellationToken)
    {
        _pending.Add((id, values));
        Rows++;
        if (_pending.Count == rowGroupSize)
        {
            await FlushAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Writes what is pending and renames the file into place. A file that got no row takes
    /// <paramref name="emptySchema"/>, so readers of an empty dataset still see its columns.
    /// </summary>
    public async ValueTask CompleteAsync(Func<ParquetRowSchema> emptySchema, CancellationToken cancellationToken)
    {
        if (_pending.Count > 0)
        {
            await FlushAsync(cancellationToken);
        }
        else if (!_wroteGroup)
        {
            Schema = emptySchema();
            await ParquetSerializer.SerializeUntypedAsync([], Schema.Schema, _stream!, cancellationToken: cancellationToken);
            _wroteGroup = true;
        }

        await _stream!.FlushAsync(cancellationToken);
        _stream.Flush(flushToDisk: true);
        await _stream.DisposeAsync();
        _stream = null;
        File.Move(AtomicFile.TempPathFor(Path), Path, overwrite: true);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync();
            _stream = null;
            File.Delete(AtomicFile.TempPathFor(Path));
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            Schema ??= ParquetRowSchema.Infer(_pending.Select(p => p.Values).ToList());
            var group = _pending.Select(p => (IDictionary<string, object?>)Schema.ToParquet(p.Values, p.Id)).ToList();
            await ParquetSerializer.SerializeUntypedAsync(group!, Schema.Schema, _stream!, new ParquetOptions { Append = _wroteGroup }, cancellationToken: cancellationToken);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{owner} ({Path}): {e.Message}", e);
        }

        _wroteGroup = true;
        _pending.Clear();
    }
}

using System.Runtime.CompilerServices;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// load_parquet: reads one row group at a time (see <see cref="ParquetRows"/>). Its columns are known
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

    public async ValueTask<long?> CountAsync(CancellationToken cancellationToken) => await ParquetRows.CountAsync(_path, cancellationToken);

    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var layout = await ParquetRows.ReadLayoutAsync(_path, _columns, Name, cancellationToken);
        var cursor = new RangeCursor(range);
        await foreach (var row in ParquetRows.ReadAsync(_path, layout, 0, range.Offset, cancellationToken))
        {
            var position = cursor.Admit(row.Id);
            if (position == RangePosition.Before)
            {
                continue;
            }

            if (position == RangePosition.After)
            {
                yield break;
            }

            yield return row;
        }
    }
}

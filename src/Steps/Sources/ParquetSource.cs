using System.Runtime.CompilerServices;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// load_parquet: reads one row group at a time (see <see cref="ParquetRows"/>). The file's footer (its schema) is
/// read when the definition is checked, so a column a later step needs and the file lacks, or a damaged file, is
/// reported by validate, before anything runs.
/// </summary>
internal sealed class ParquetSource : ISourceStep, ICountableSource
{
    private readonly string _path;
    private readonly IReadOnlyList<string> _columns;

    public ParquetSource(StepParameters parameters)
    {
        Name = parameters.Name;
        _path = InputErrorPolicies.RequireExistingFile(parameters);
        var wanted = parameters.GetStringList("columns");
        // Steps are built synchronously (StepType.Create); the footer is a few kB, read once.
        var fields = Task.Run(() => ParquetRows.ReadFieldsAsync(_path, CancellationToken.None)).GetAwaiter().GetResult();
        var missing = wanted?.Where(c => !fields.Contains(c)).ToList();
        if (missing is { Count: > 0 })
        {
            throw parameters.Error("columns", $"column(s) {string.Join(", ", missing)} listed in 'columns' of step '{Name}' are not in {_path} (it has: {string.Join(", ", fields)})");
        }

        _columns = wanted ?? fields;
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => _columns;

    public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => RunFingerprint.OfFileAsync(_path, cancellationToken);

    public async ValueTask<long?> CountAsync(CancellationToken cancellationToken) => await ParquetRows.CountAsync(_path, cancellationToken);

    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var layout = await ParquetRows.ReadLayoutAsync(_path, _columns, Name, cancellationToken);
        var rows = ParquetRows.ReadAsync(_path, layout, 0, range.Offset, cancellationToken);
        await foreach (var row in new RangeCursor(range).AdmitAsync(rows, cancellationToken))
        {
            yield return row;
        }
    }
}

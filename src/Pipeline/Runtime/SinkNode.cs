using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Threading.Tasks.Dataflow;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// Feeds a sink one batch at a time. Rows that carry an error are not written to the dataset: they go to
/// <c>&lt;sink&gt;.errors.jsonl</c> beside the output (id, error and values) and are counted as <c>row_error</c>.
/// </summary>
[SuppressMessage("Design", "CA1001:TypesThatOwnDisposableFieldsShouldBeDisposable", Justification = "The errors file is closed when the sink completes or faults, which every run reaches.")]
internal sealed class SinkNode : LoopNode
{
    public const string RowError = "row_error";

    private readonly ActionBlock<Inbound> _block;
    private readonly ISinkStep _sink;
    private FileStream? _errors;
    private Utf8JsonWriter? _errorWriter;
    private long _rowsArrived;
    private long _rowsWritten;

    public SinkNode(StepDefinition definition, RunContext run, CancellationToken cancellationToken)
        : base(definition, run)
    {
        _sink = (ISinkStep)definition.Step;
        _block = new ActionBlock<Inbound>(WriteAsync, new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = 1,
            BoundedCapacity = run.Options.CapacityFor(definition),
            SingleProducerConstrained = true,
            CancellationToken = cancellationToken,
        });
    }

    public override ITargetBlock<Inbound> Input => _block;

    public IReadOnlyList<string> OutputFiles { get; private set; } = [];

    /// <summary>The files the sink answers for (see <see cref="ISinkStep.OwnedFiles"/>).</summary>
    public IReadOnlyList<string> OwnedFiles => _sink.OwnedFiles;

    public string ErrorsPath => Path.Combine(Run.OutputDirectory, $"{Definition.Name}.errors.jsonl");

    public ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        var known = Definition.ColumnsIn?.Where(c => c != Row.ErrorColumn).ToList();
        var context = new SinkContext(Run.OutputDirectory, Run.RunDirectory)
        {
            Columns = known is null ? null : ColumnMappings.StepView(Definition, known),
            Models = Run.ModelIdentities,
            StepMetrics = Run.StepMetrics,
        };
        return _sink.OpenAsync(context, Totals, cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (Run.Options.Plan)
        {
            await _block.Completion;
            return;
        }

        try
        {
            await _block.Completion;

            // The errors file is finished first: it is kept even if the sink cannot finish its output.
            var files = new List<string>();
            if (_errors is not null)
            {
                await _errorWriter!.FlushAsync(cancellationToken);
                await _errors.DisposeAsync();
                _errors = null;
                File.Move(AtomicFile.TempPathFor(ErrorsPath), ErrorsPath, overwrite: true);
                files.Add(ErrorsPath);
            }

            try
            {
                files.InsertRange(0, await CompleteSinkAsync(cancellationToken));
            }
            catch when (files.Count > 0)
            {
                // The output of a failed run is never published, but its errors file explains the failure.
                File.Move(ErrorsPath, Path.Combine(Run.RunDirectory, Path.GetFileName(ErrorsPath)), overwrite: true);
                throw;
            }

            OutputFiles = files;
        }
        finally
        {
            if (_errors is not null)
            {
                await _errors.DisposeAsync();
            }

            if (_sink is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    private async Task<IReadOnlyList<string>> CompleteSinkAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _sink.CompleteAsync(cancellationToken);
        }
        catch (InvalidDataException e) when (_rowsWritten == 0)
        {
            var errors = _rowsArrived > 0 ? $"; {_rowsArrived} carried an error and were written to {Path.Combine(Run.RunDirectory, Path.GetFileName(ErrorsPath))}" : string.Empty;
            throw new InvalidDataException($"{e.Message} (no row reached step '{Definition.Name}' without an error: {_rowsArrived} arrived{errors})", e);
        }
    }

    private async Task WriteAsync(Inbound batch)
    {
        var cancellationToken = Run.CancellationToken;
        if (Run.Options.Plan)
        {
            CountIn(batch.Rows.Length);
            await EmitAsync(batch.Rows, cancellationToken);
            return;
        }

        var good = new List<Row>(batch.Rows.Length);
        foreach (var row in batch.Rows)
        {
            if (row.HasError)
            {
                WriteError(row);
            }
            else
            {
                good.Add(row);
            }
        }

        _rowsArrived += batch.Rows.Length;
        _rowsWritten += good.Count;
        if (good.Count > 0)
        {
            var view = View;
            await _sink.WriteAsync(view is null ? good : good.ConvertAll(row => row.ViewAs(view)), cancellationToken);
        }

        CountIn(batch.Rows.Length);
        await EmitAsync(good, cancellationToken);
    }

    private void WriteError(Row row)
    {
        if (_errors is null)
        {
            _errors = new FileStream(AtomicFile.TempPathFor(ErrorsPath), FileMode.Create, FileAccess.Write);
            _errorWriter = new Utf8JsonWriter(_errors);
        }

        var writer = _errorWriter!;
        writer.WriteStartObject();
        writer.WriteNumber("id", row.Id);
        writer.WriteString("error", row.GetString(Row.ErrorColumn));
        writer.WritePropertyName("values");
        RowJson.WriteRow(writer, row);
        writer.WriteEndObject();
        writer.Flush();
        _errors.WriteByte((byte)'\n');
        writer.Reset();
        Totals.CountDropped(RowError);
    }
}

using System.Runtime.CompilerServices;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// <c>magpie</c> with <c>num_rows</c>: the pipeline's source. Rows <c>0..num_rows-1</c> start empty and are written by
/// <see cref="MagpieStep"/>, <c>batch_size</c> rows per model batch; each row's seeds come from its id, so a resumed or
/// sharded run writes the same rows. As an <see cref="IGeneratingSource"/> its batches go through the step batch
/// cache: a rerun, or a resume after a kill, reads the finished batches back instead of calling the model.
/// </summary>
public sealed class MagpieGenerator : IGeneratingSource, ICountableSource, IModelRequirement
{
    private readonly MagpieStep _task;
    private readonly long _numRows;
    private readonly int _batchSize;
    private readonly string _model;

    public MagpieGenerator(StepParameters parameters)
    {
        _task = new MagpieStep(parameters);
        if (_task.SystemPromptColumn is not null)
        {
            throw parameters.Error("system_prompt_column", "a magpie with 'num_rows' is the source and has no input rows to take a system prompt from; "
                + "give a fixed 'system_prompt', or drop 'num_rows' and place the step after a source of system prompts");
        }

        _numRows = parameters.GetInt64("num_rows", 0, 1, long.MaxValue);
        _batchSize = parameters.GetInt32("batch_size", 16, 1, StepDefinition.MaxBatchSize);
        _model = parameters.RequireString("model");
    }

    public string Name => _task.Name;

    public IReadOnlyList<string> InputColumns => [];

    public IBatchStep Writer => _task;

    public int BatchSize => _batchSize;

    public long RowCount => _numRows;

    public IReadOnlyList<string> OutputColumns => _task.OutputColumns;

    public string? Refuse(string modelName, StepParameters model) => _task.Refuse(modelName, model);

    public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult($"magpie:{_model}:{_numRows} rows");

    public ValueTask<long?> CountAsync(CancellationToken cancellationToken) => ValueTask.FromResult<long?>(_numRows);

    /// <summary>The rows without the cache, for readers outside a run (the runtime uses <see cref="Writer"/>).</summary>
    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var end = range.Limit is { } limit ? Math.Min(_numRows, range.Offset + limit) : _numRows;
        for (var start = range.Offset; start < end; start += _batchSize)
        {
            var batch = new List<Row>();
            for (var id = start; id < Math.Min(end, start + _batchSize); id++)
            {
                batch.Add(new Row(id));
            }

            foreach (var row in await _task.ProcessAsync(batch, context, cancellationToken).ConfigureAwait(false))
            {
                yield return row;
            }
        }
    }
}

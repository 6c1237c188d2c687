namespace Distil.Pipeline;

/// <summary>
/// A source whose rows a model writes from nothing (magpie with <c>num_rows</c>): the runtime hands
/// <see cref="Writer"/> batches of empty rows (ids only, <see cref="BatchSize"/> at a time, over the run's range of
/// <c>0..RowCount-1</c>) through the same step batch cache as any model step, so a rerun or a resume after a kill
/// reads finished batches back instead of calling the model again.
/// </summary>
public interface IGeneratingSource : ISourceStep
{
    /// <summary>The step that fills a batch of empty rows; its batches are cached like a model step's.</summary>
    IBatchStep Writer { get; }

    /// <summary>Rows per batch.</summary>
    int BatchSize { get; }

    /// <summary>Rows the source has in all.</summary>
    long RowCount { get; }
}

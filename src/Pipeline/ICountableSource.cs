namespace Distil.Pipeline;

/// <summary>A source that can count its rows cheaply before reading them (for progress and ETA).</summary>
public interface ICountableSource
{
    /// <summary>The number of rows in the whole source, or null when counting would cost as much as reading.</summary>
    ValueTask<long?> CountAsync(CancellationToken cancellationToken);
}

namespace Distil.Steps;

/// <summary>
/// A sink that, as configured, needs every row of the run at once, or that writes a dataset card. The service
/// refuses the first kind for sharded runs and rewrites the card of the second from the merged output.
/// </summary>
public interface IWholeRunSink
{
    /// <summary>The parameter that makes the output depend on the whole run, and why; null when shards can write it.</summary>
    (string Parameter, string Reason)? NeedsWholeRun { get; }

    /// <summary>The card this sink writes beside its data, if any.</summary>
    DatasetCardStep? Card { get; }
}

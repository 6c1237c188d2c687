using Distil.Hub;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// A step that publishes to the Hub when the run completes (push_to_hub). A sharded service sets
/// <see cref="Deferred"/> in its shard jobs, so each shard only writes its Parquet, and publishes the merged
/// folder once with <see cref="PublishMergedAsync"/>.
/// </summary>
public interface IHubPublishingStep
{
    /// <summary>Where and how the step publishes (Token null: resolved from HF_TOKEN / the token file, or the step's token_env, at publish time).</summary>
    PublishOptions Target { get; }

    /// <summary>When true, the step writes its files but does not publish them.</summary>
    bool Deferred { get; set; }

    /// <summary>
    /// Publishes what the step's shards wrote, once merged into <paramref name="merged"/>'s output folder: the card is
    /// first rewritten from the merged rows, then the Parquet, card and definition go up in one commit carrying
    /// <paramref name="commitMarker"/>, so a retry finds that commit instead of making another.
    /// </summary>
    /// <param name="elapsed">The whole run's time, for the card.</param>
    /// <param name="definitionFile">The definition to publish beside the data (null: none).</param>
    /// <param name="review">People's decisions about the pairs (<see cref="ReviewedDataset"/>), applied to what goes up; empty: none.</param>
    Task<PublishResult> PublishMergedAsync(SinkContext merged, TimeSpan elapsed, string? definitionFile, string commitMarker, Microsoft.Extensions.Logging.ILogger? logger, CancellationToken cancellationToken, IReadOnlyList<ReviewEntry>? review = null);
}

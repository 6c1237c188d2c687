using Distil.Hub;

namespace Distil.Steps;

/// <summary>
/// A step that publishes to the Hub when the run completes (push_to_hub). A sharded service sets
/// <see cref="Deferred"/> in its shard jobs, so each shard only writes its Parquet, and publishes the merged
/// folder once with <c>HubPublisher.PublishAsync(mergedFolder, step.Target, ct)</c>.
/// </summary>
public interface IHubPublishingStep
{
    /// <summary>Where and how the step publishes (Token null: resolved from HF_TOKEN / the token file, or the step's token_env, at publish time).</summary>
    PublishOptions Target { get; }

    /// <summary>When true, the step writes its files but does not publish them.</summary>
    bool Deferred { get; set; }
}

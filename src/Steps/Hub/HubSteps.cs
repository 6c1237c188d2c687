using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// Registers push_to_hub. It runs write_parquet and (when registered) dataset_card inside itself, so it is
/// registered after them and accepts their parameters too.
/// </summary>
public static class HubSteps
{
    public static void Register(StepRegistry registry)
    {
        if (!registry.TryGet("write_parquet", out var parquet))
        {
            throw new InvalidOperationException("push_to_hub needs write_parquet: register SinkSteps before HubSteps");
        }

        var card = registry.TryGet("dataset_card", out var cardType) ? cardType : null;
        registry.Register(new StepType(
            "push_to_hub",
            parquet.Parameters.Concat(card?.Parameters ?? []).Concat(PushToHub.OwnParameters).Distinct(StringComparer.Ordinal).ToArray(),
            p => new PushToHub(p, (ISinkStep)parquet.Create(p), card is null ? null : (ISinkStep)card.Create(p)),
            "Writes rows to Parquet (as write_parquet) and the dataset card (as dataset_card), then publishes both with the definition to a Hugging Face Hub dataset repo in one commit."));
    }
}

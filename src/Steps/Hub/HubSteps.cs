using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers push_to_hub (after the sinks, since it writes its Parquet through write_parquet).</summary>
public static class HubSteps
{
    public static void Register(StepRegistry registry)
    {
        if (!registry.TryGet("write_parquet", out var parquet))
        {
            throw new InvalidOperationException("push_to_hub needs write_parquet: register SinkSteps before HubSteps");
        }

        registry.Register(new StepType(
            "push_to_hub",
            parquet.Parameters.Concat(PushToHub.OwnParameters).ToArray(),
            p => new PushToHub(p, (ISinkStep)parquet.Create(p)),
            "Writes rows to Parquet like write_parquet, then publishes them with the card and the definition to a Hugging Face Hub dataset repo in one commit."));
    }
}

using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers push_to_hub.</summary>
public static class HubSteps
{
    public static void Register(StepRegistry registry)
    {
    }
}

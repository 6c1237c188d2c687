using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers text_generation, ultrafeedback, preference_pairs.</summary>
public static class TaskSteps
{
    public static void Register(StepRegistry registry)
    {
    }
}

using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers text_generation, ultrafeedback, preference_pairs and dataset_card.</summary>
public static class TaskSteps
{
    public static void Register(StepRegistry registry) => registry
        .Register(TextGenerationStep.Type)
        .Register(UltraFeedbackStep.Type)
        .Register(PreferencePairsStep.Type)
        .Register(DatasetCardStep.Type);
}

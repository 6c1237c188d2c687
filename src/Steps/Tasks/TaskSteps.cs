using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers the model tasks (text_generation, magpie, self_instruct, evol_instruct, ultrafeedback, rubric_judge, pairwise_judge), reward_model, judge_agreement, preference_pairs and dataset_card.</summary>
public static class TaskSteps
{
    public static void Register(StepRegistry registry) => registry
        .Register(TextGenerationStep.Type)
        .Register(MagpieStep.Type)
        .Register(SelfInstructStep.Type)
        .Register(EvolInstructStep.Type)
        .Register(UltraFeedbackStep.Type)
        .Register(RubricJudgeStep.Type)
        .Register(PairwiseJudgeStep.Type)
        .Register(RewardModelStep.Type)
        .Register(JudgeAgreementStep.Type)
        .Register(PreferencePairsStep.Type)
        .Register(DatasetCardStep.Type);
}

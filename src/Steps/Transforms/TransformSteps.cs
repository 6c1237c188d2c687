using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers keep_columns, rename_columns, combine_columns, filter, dedup.</summary>
public static class TransformSteps
{
    public static void Register(StepRegistry registry)
    {
    }
}

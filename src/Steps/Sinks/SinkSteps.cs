using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers write_parquet, write_jsonl, format_outputs.</summary>
public static class SinkSteps
{
    public static void Register(StepRegistry registry)
    {
        registry.Register(new StepType("write_parquet", ["path", "columns", "row_group_size"], p => new ParquetSink(p),
            "Writes rows to a Parquet file in the output folder (typed columns, lists of structs), atomically."));
        registry.Register(new StepType("write_jsonl", ["path", "columns"], p => new JsonlSink(p),
            "Writes rows to a JSON Lines file in the output folder, atomically."));
        registry.Register(FormatOutputsSink.Type);
    }
}

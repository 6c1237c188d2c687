using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers loaders (load_jsonl, load_csv, load_parquet, load_hub).</summary>
public static class SourceSteps
{
    public static void Register(StepRegistry registry, HubSourceSettings? hub = null)
    {
        registry.Register(new StepType("load_jsonl", ["path", "on_error", "columns", "max_line_bytes"], p => new JsonlSource(p),
            "Reads a JSON Lines file, one object per line (streamed; on_error: fail|skip; max_line_bytes caps one line, default 16 MiB)."));
        registry.Register(new StepType("load_csv", ["path", "on_error", "delimiter"], p => new CsvSource(p),
            "Reads a CSV file with a header line; values are strings (streamed; on_error: fail|skip)."));
        registry.Register(new StepType("load_parquet", ["path", "columns"], p => new ParquetSource(p),
            "Reads a Parquet file one row group at a time; 'columns' picks columns."));
        registry.Register(new StepType("load_hub", HubSource.Parameters, p => new HubSource(p, hub ?? HubSourceSettings.Default),
            "Streams a split of a Hugging Face Hub dataset from its Parquet files (revision pinned to a commit, files cached; token from HF_TOKEN or token_env)."));
    }
}

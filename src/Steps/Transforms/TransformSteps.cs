using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers keep_columns, rename_columns, combine_columns, filter, dedup, minhash_dedup, decontaminate, embedding_dedup, pass_through.</summary>
public static class TransformSteps
{
    public static void Register(StepRegistry registry)
    {
        registry.Register(new StepType("keep_columns", ["columns"], p => new KeepColumns(p),
            "Keeps only the listed columns, in that order."));
        registry.Register(new StepType("rename_columns", ["columns"], p => new RenameColumns(p),
            "Renames columns: {\"columns\": {\"old\": \"new\"}}."));
        registry.Register(new StepType("combine_columns", ["columns", "output_columns"], p => new CombineColumns(p),
            "Joins branches by row id; each of 'columns' becomes a list (one entry per branch) named by 'output_columns'."));
        registry.Register(new StepType("filter", ["column", "op", "value"], p => new Filter(p),
            "Keeps rows where column op value holds (eq, ne, gt, lt, ge, le, contains, not_null)."));
        registry.Register(new StepType("dedup", ["column"], p => new Dedup(p),
            "Drops rows whose column value was already seen (exact match, first wins)."));
        registry.Register(MinHashDedup.Type);
        registry.Register(Decontaminate.Type);
        registry.Register(EmbeddingDedup.Type);
        registry.Register(new StepType("pass_through", ["delay_ms", "cache"], p => new PassThrough(p),
            "Hands rows on unchanged, optionally waiting delay_ms per batch (stands in for a slow task)."));
    }
}

namespace Distil.Pipeline;

/// <summary>One validated entry of a definition's <c>steps</c>: the step, its place in the graph and the runtime's keys.</summary>
public sealed class StepDefinition
{
    internal StepDefinition(StepType type, StepParameters parameters, IStep step)
    {
        Type = type;
        Parameters = parameters;
        Step = step;
    }

    public string Name => Parameters.Name;

    public StepType Type { get; }

    public StepParameters Parameters { get; }

    public IStep Step { get; }

    /// <summary>The model the step calls (its <c>model</c> parameter), or null for steps that call none.</summary>
    public string? Model => Type.Parameters.Contains("model") ? Parameters.GetString("model") : null;

    /// <summary>Predecessors, explicit or implied (the previous step in the list).</summary>
    public IReadOnlyList<string> After { get; internal set; } = [];

    /// <summary>Rows handed to the step at a time; batch boundaries are row positions, so reruns cut the same batches.</summary>
    public int InputBatchSize { get; internal init; } = DefaultBatchSize;

    /// <summary>Batches of this step processed at once.</summary>
    public int MaxParallelism { get; internal init; } = 1;

    /// <summary>{step_column: row_column}: the step reads <c>row_column</c> under the name it expects.</summary>
    public IReadOnlyDictionary<string, string> InputMappings { get; internal init; } = new Dictionary<string, string>();

    /// <summary>{step_column: new_name}: the step's output column is renamed.</summary>
    public IReadOnlyDictionary<string, string> OutputMappings { get; internal init; } = new Dictionary<string, string>();

    /// <summary>Columns present in the rows this step receives (null when the source cannot tell before reading).</summary>
    public IReadOnlyList<string>? ColumnsIn { get; internal set; }

    /// <summary>Columns present in the rows this step emits (null when unknown).</summary>
    public IReadOnlyList<string>? ColumnsOut { get; internal set; }

    public const int DefaultBatchSize = 50;

    /// <summary>Largest <c>input_batch_size</c>: a batch is held in memory whole.</summary>
    public const int MaxBatchSize = 1_000_000;

    /// <summary>Largest <c>max_parallelism</c>.</summary>
    public const int MaxParallelismLimit = 1024;

    public override string ToString() => $"{Name} ({Type.Name})";
}

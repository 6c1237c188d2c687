namespace Distil;

/// <summary>
/// The keys every step accepts (docs/pipelines.md): where it sits in the graph, how it batches, how its columns are
/// renamed. Null leaves a key out of the definition, so the runtime's default applies.
/// </summary>
public sealed record StepOptions
{
    /// <summary>Predecessors; left out, a step follows the one before it in the list.</summary>
    public IReadOnlyList<string>? After { get; init; }

    public int? InputBatchSize { get; init; }

    public int? MaxParallelism { get; init; }

    /// <summary>{step_column: row_column}: the step reads <c>row_column</c> under the name it expects.</summary>
    public IReadOnlyDictionary<string, string>? InputMappings { get; init; }

    /// <summary>{step_column: new_name}: the step's output column is renamed.</summary>
    public IReadOnlyDictionary<string, string>? OutputMappings { get; init; }

    public string? Description { get; init; }

    /// <summary>Runs after <paramref name="steps"/>.</summary>
    public static StepOptions AfterSteps(params string[] steps) => new() { After = steps };
}

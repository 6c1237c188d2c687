namespace Distil.Pipeline;

/// <summary>A kind of step a definition can name in <c>type</c>.</summary>
/// <param name="Name">The <c>type</c> value, e.g. <c>load_jsonl</c>.</param>
/// <param name="Parameters">Parameter names this type accepts besides the common ones; anything else is rejected.</param>
/// <param name="Create">Builds the step; throws <see cref="PipelineDefinitionException"/> (via <see cref="StepParameters.Error"/>) for bad values.</param>
/// <param name="Description">One line for <c>distil steps</c> and error messages.</param>
public sealed record StepType(string Name, IReadOnlyCollection<string> Parameters, Func<StepParameters, IStep> Create, string Description);

/// <summary>The step types known to a run. Each project registers its own (see Distil.Steps.BuiltInSteps).</summary>
public sealed class StepRegistry
{
    /// <summary>Keys every step may carry, handled by the runtime rather than the step.</summary>
    public static readonly IReadOnlySet<string> CommonParameters = new HashSet<string>(StringComparer.Ordinal)
    {
        "name", "type", "after", "input_batch_size", "input_mappings", "output_mappings", "max_parallelism", "description",
    };

    private readonly Dictionary<string, StepType> _types = new(StringComparer.Ordinal);

    /// <summary>
    /// Checks one entry of <c>models</c> (name, entry, where to report) when a definition is parsed, so that the
    /// models are validated with everything else, before any model loads. Null: only "type" is required.
    /// </summary>
    public Action<string, StepParameters, DefinitionProblems>? ModelValidator { get; set; }

    public StepRegistry Register(StepType type)
    {
        if (!_types.TryAdd(type.Name, type))
        {
            throw new InvalidOperationException($"step type '{type.Name}' is registered twice");
        }

        return this;
    }

    public bool TryGet(string name, out StepType type) => _types.TryGetValue(name, out type!);

    public IEnumerable<StepType> Types => _types.Values.OrderBy(t => t.Name, StringComparer.Ordinal);
}

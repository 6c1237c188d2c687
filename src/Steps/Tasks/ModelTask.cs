using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// The base of every step that calls a model (distilabel's <c>Task</c>): it reads the parameters all of them share
/// (<c>model</c>, <c>generation</c>, <c>max_concurrency</c>), hands the subclass the batch's usable rows (copies; rows
/// already failed upstream pass through untouched) and a <see cref="ModelCalls"/> through which every request goes,
/// so token usage, per-row token columns and model failures are handled in one place.
/// </summary>
public abstract class ModelTask : IBatchStep
{
    /// <summary>The parameters every model task accepts.</summary>
    protected static readonly IReadOnlyList<string> SharedParameters = ["model", "generation", "max_concurrency"];

    protected ModelTask(StepParameters parameters)
    {
        Name = parameters.Name;
        Model = parameters.RequireString("model");
        Generation = GenerationSettings.From(parameters);
        MaxConcurrency = parameters.GetInt32("max_concurrency", 16);
        if (MaxConcurrency < 1)
        {
            throw parameters.Error("max_concurrency", "'max_concurrency' must be at least 1");
        }
    }

    public string Name { get; }

    /// <summary>The key in the definition's <c>models</c>.</summary>
    protected string Model { get; }

    /// <summary>Sampling settings; each request's seed comes from <see cref="GenerationSettings.ToChatOptions"/>.</summary>
    protected GenerationSettings Generation { get; }

    /// <summary>Concurrent calls for clients without a batch path (remote endpoints).</summary>
    protected int MaxConcurrency { get; }

    public abstract IReadOnlyList<string> InputColumns { get; }

    public abstract IReadOnlyList<string> OutputColumns { get; }

    /// <summary>The parameter list of a step type: the shared ones and the type's own.</summary>
    protected static IReadOnlyList<string> ParametersWith(params string[] own) => [.. SharedParameters, .. own];

    public async ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var output = rows.Select(r => r.Clone()).ToArray();
        var usable = output.Where(r => !r.HasError).ToList();
        if (usable.Count > 0)
        {
            await ProcessRowsAsync(usable, new ModelCalls(Name, Model, MaxConcurrency, context), cancellationToken).ConfigureAwait(false);
        }

        return output;
    }

    /// <summary>Fills the output columns of <paramref name="rows"/> (in place), calling the model through <paramref name="calls"/>.</summary>
    protected abstract Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken);
}

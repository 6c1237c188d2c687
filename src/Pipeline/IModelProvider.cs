using Microsoft.Extensions.AI;

namespace Distil.Pipeline;

/// <summary>
/// Opens the models a definition names in its <c>models</c> object. The runtime asks once per model
/// per run and disposes the clients at the end; Distil.Steps.ModelCatalog is the implementation
/// (local ONNX models through Distil.Engine, remote OpenAI-compatible endpoints through Microsoft.Extensions.AI.OpenAI).
/// </summary>
public interface IModelProvider
{
    /// <param name="name">The key in <c>models</c>.</param>
    /// <param name="definition">The model's JSON object, with located errors (same getters as a step's).</param>
    ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, CancellationToken cancellationToken);

    /// <summary>Opens the model for a run whose folder is <paramref name="runDirectory"/>: models that keep state a
    /// rerun must find (the ids of submitted batches) keep it there. The default ignores the folder.</summary>
    ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, string runDirectory, CancellationToken cancellationToken) =>
        OpenAsync(name, definition, cancellationToken);

    /// <summary>Runs before any model is opened: refuses a definition whose models cannot fit the devices it states
    /// (<c>devices.*.memory_budget</c>) with a <see cref="PipelineDefinitionException"/> giving the numbers.</summary>
    void CheckBeforeOpening(PipelineDefinition definition)
    {
    }

    /// <summary>
    /// The model's identity without opening it (the cache key of the steps that call it). The default covers
    /// only the entry's settings; providers that know where weights live add their content.
    /// </summary>
    ValueTask<ModelIdentity> IdentifyAsync(string name, StepParameters definition, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new ModelIdentity(name, CanonicalJson.Digest(w => CanonicalJson.Write(w, definition.Element)), "settings only"));
}

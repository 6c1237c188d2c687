using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>Opens the models of a definition: local ONNX model folders through Distil.Engine, remote OpenAI-compatible endpoints.</summary>
public sealed class ModelCatalog : IModelProvider
{
    public ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, CancellationToken cancellationToken) =>
        throw definition.Error("type", $"model '{name}': no model types are available yet");
}

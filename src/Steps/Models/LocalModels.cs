using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>Opens a local model folder with Distil.Engine, applying the entry's device, threads and chat template.</summary>
internal static class LocalModels
{
    public static IChatClient Open(string name, string path, StepParameters definition) =>
        throw definition.Error("type", $"model '{name}': the local engine is not available in this build");
}

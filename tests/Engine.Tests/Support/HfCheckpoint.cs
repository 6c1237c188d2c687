using System.Text.Json.Nodes;
using Distil.Engine.Building;

namespace Distil.Engine.Tests.Support;

/// <summary>Saves a config's weights (e.g. a preset's seeded ones) as a Hugging Face checkpoint folder in HF naming,
/// F32 so the file holds exactly the numbers the reference pass is fed.</summary>
internal static class HfCheckpoint
{
    public static Dictionary<string, float[]> Save(string folder, LlamaConfig config, ILlamaWeights weights, JsonObject configJson)
    {
        Directory.CreateDirectory(folder);
        var tensors = LlamaWeightNames.All(config).Select(t => (t.Name, t.Shape, Data: weights.Read(t.Name, out _))).ToList();
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors, bf16: false);
        File.WriteAllText(Path.Combine(folder, "config.json"), configJson.ToJsonString());
        return tensors.ToDictionary(t => t.Name, t => t.Data);
    }
}

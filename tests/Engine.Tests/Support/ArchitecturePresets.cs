using Distil.Engine.Building;

namespace Distil.Engine.Tests.Support;

/// <summary>The tiny Falcon, Falcon-40B-style, Qwen2 and Qwen3 presets and the tiny Llama (seed 1), built once per test run.</summary>
public sealed class ArchitecturePresets : IDisposable
{
    public static readonly string[] Names = ["tiny-falcon", "tiny-falcon-40b-style", "tiny-qwen2", "tiny-qwen3"];

    private readonly TempFolder _temp = new("distil-archs");

    public ArchitecturePresets()
    {
        foreach (var name in Names.Append("tiny"))
        {
            ModelBuilder.BuildPreset(name, 1, Folder(name));
        }
    }

    public string Folder(string preset) => Path.Combine(_temp.Path, preset);

    public void Dispose() => _temp.Dispose();
}

[CollectionDefinition(Name)]
public sealed class ArchitecturePresetCollection : ICollectionFixture<ArchitecturePresets>
{
    public const string Name = "architecture presets";
}

namespace Distil.Engine.Tests.Support;

/// <summary>The tiny Falcon, Falcon-40B-style, Qwen2 and Qwen3 presets and the tiny Llama (seed 1), from the run's shared model cache.</summary>
public sealed class ArchitecturePresets
{
    public static readonly string[] Names = ["tiny-falcon", "tiny-falcon-40b-style", "tiny-qwen2", "tiny-qwen3"];

    private readonly Dictionary<string, string> _folders = Names.Append("tiny").ToDictionary(name => name, name => SharedModels.Preset(name, 1));

    public string Folder(string preset) => _folders[preset];
}

[CollectionDefinition(Name)]
public sealed class ArchitecturePresetCollection : ICollectionFixture<ArchitecturePresets>
{
    public const string Name = "architecture presets";
}

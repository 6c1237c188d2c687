using Distil.Engine.Building;

namespace Distil.Engine.Tests.Support;

/// <summary>Two tiny preset models (seeds 1 and 2), built once per test run and shared by the test classes.</summary>
public sealed class TinyModels : IDisposable
{
    private readonly TempFolder _temp = new("distil-tiny");

    public TinyModels()
    {
        A = Path.Combine(_temp.Path, "tiny-a");
        B = Path.Combine(_temp.Path, "tiny-b");
        ModelBuilder.BuildPreset("tiny", 1, A);
        ModelBuilder.BuildPreset("tiny", 2, B);
    }

    public string A { get; }

    public string B { get; }

    /// <summary>A private copy of model A that a test may edit (bad-input tests).</summary>
    public string CopyOfA(string name)
    {
        var target = Path.Combine(_temp.Path, $"{name}-{Guid.NewGuid():N}");
        foreach (var file in Directory.GetFiles(A, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(A, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }

        return target;
    }

    public void Dispose() => _temp.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModels>
{
    public const string Name = "tiny models";
}

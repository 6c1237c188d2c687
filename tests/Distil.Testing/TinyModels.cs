using System.Diagnostics.CodeAnalysis;
using Distil.Engine;

namespace Distil.Testing;

/// <summary>
/// Two tiny random-weight models (the "tiny" preset, seeds 1 and 2) from <see cref="SharedModels"/>, plus a
/// scratch folder of the fixture's own. Their text is gibberish, which is the point: what reads it must cope.
/// A test project shares one instance through a collection: <c>[CollectionDefinition(TinyModels.Collection)]</c>.
/// </summary>
public sealed class TinyModels : IDisposable
{
    public const string Collection = "tiny models";

    private readonly TempFolder _scratch = new("distil-tiny");

    public string A { get; } = SharedModels.Preset("tiny", 1, "tiny-a");

    public string B { get; } = SharedModels.Preset("tiny", 2, "tiny-b");

    /// <summary>A folder of this fixture's own (removed at the end) for a test's definitions and runs.</summary>
    public string Root => _scratch.Path;

    /// <summary>A private copy of model A that a test may edit (bad-input tests): the shared folders stay as built.</summary>
    public string CopyOfA(string name)
    {
        var target = _scratch.Sub($"{name}-{Guid.NewGuid():N}");
        foreach (var file in Directory.GetFiles(A, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(A, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }

        return target;
    }

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Tests open models through the fixture they are given.")]
    public LocalChatClient Open(string folder) => LocalModel.Load(folder, new LocalModelOptions { Threads = 1, ChatTemplate = "llama3" });

    public void Dispose() => _scratch.Dispose();
}

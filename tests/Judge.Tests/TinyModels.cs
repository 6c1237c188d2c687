using System.Diagnostics.CodeAnalysis;
using Distil.Engine;
using Distil.Steps;

namespace Distil.Judge.Tests;

/// <summary>
/// Two tiny random-weight models built once for the test run (the way a fresh checkout builds them): what the
/// end-to-end and constrained-decoding tests run on. Their text is gibberish, which is the point: the judge's
/// answer must parse anyway.
/// </summary>
public sealed class TinyModels : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "distil-judge-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public string ModelA => Path.Combine(Root, "tiny-a");

    public string ModelB => Path.Combine(Root, "tiny-b");

    public async Task InitializeAsync()
    {
        await Task.WhenAll(
            ModelFolderBuilder.EnsureBuiltAsync(ModelA, "tiny", 1, default),
            ModelFolderBuilder.EnsureBuiltAsync(ModelB, "tiny", 2, default));
    }

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Tests open models through the fixture they are given.")]
    public LocalChatClient Open(string folder) => LocalModel.Load(folder, new LocalModelOptions { Threads = 1, ChatTemplate = "llama3" });

    public Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModels>
{
    public const string Name = "tiny models";
}

using Distil.Engine.Text;

namespace Distil.Engine.Tests.Text;

/// <summary>One Llama-3-style tokenizer written to a temporary model folder and loaded, shared by a test class.</summary>
public sealed class Llama3StyleTokenizerFixture : IDisposable
{
    public Llama3StyleTokenizerFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "distil-tok-" + Guid.NewGuid().ToString("N"));
        ModelTokenizer.WriteLlama3Style(Directory);
        Tokenizer = ModelTokenizer.Load(Directory);
    }

    public string Directory { get; }

    public ModelTokenizer Tokenizer { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

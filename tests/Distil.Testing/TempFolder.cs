namespace Distil.Testing;

/// <summary>A fresh folder under the system temp directory, removed (as far as it can be) on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder(string prefix = "distil-engine") =>
        Path = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}")).FullName;

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

namespace Distil.Library.Tests;

/// <summary>A temp folder per test, removed afterwards.</summary>
public sealed class Workspace : IDisposable
{
    public string Root { get; } = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "distil-tests", "library-" + Guid.NewGuid().ToString("N")[..12])).FullName;

    public string Path(string relative) => System.IO.Path.Combine(Root, relative);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A process still closing a file; the temp folder is cleaned later.
        }
    }
}

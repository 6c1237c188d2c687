namespace Distil.Testing;

/// <summary>The repository the tests run in (the folder holding Distil.sln), found by walking up from the test assembly.</summary>
public static class TestRepository
{
    private static readonly Lazy<string> FoundRoot = new(FindRoot);

    public static string Root => FoundRoot.Value;

    /// <summary>A file of the repository (a shipped pipeline, a peer script) by its path from the root.</summary>
    public static string File(string relative) =>
        Path.Combine(Root, relative) is var path && System.IO.File.Exists(path) ? path : throw new FileNotFoundException($"{relative} is not in the repository at {Root}", path);

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(folder.FullName, "Distil.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("Distil.sln not found above " + AppContext.BaseDirectory);
    }
}

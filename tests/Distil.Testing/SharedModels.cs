using System.Security.Cryptography;
using System.Text;
using Distil.Engine.Building;
using Distil.Steps;

namespace Distil.Testing;

/// <summary>
/// Preset models (random weights, built from a recipe) shared by every test project of a run and by later runs:
/// each lives in a folder of the system temp directory named by what determines its bytes — the preset, the seed
/// and the model builder's own build (the Distil.Engine assembly's MVID, which a deterministic build derives from
/// its content). The model folder inside an entry has the name the caller gives, because a local model's id is its
/// folder's name (tests read "tiny-a" back). The first project to ask builds it; the others wait for that build and
/// reuse it. Treat the folders as read-only: a test that edits a model works on a copy.
/// </summary>
public static class SharedModels
{
    /// <summary>Entries not used for this long belong to builds of the engine nobody tests any more.</summary>
    private static readonly TimeSpan Unused = TimeSpan.FromDays(2);

    private static readonly Lazy<string> CacheRoot = new(OpenCache);

    /// <summary>The folder of <paramref name="preset"/> built with <paramref name="seed"/>, named <paramref name="name"/>
    /// (the preset's name when null), built now if no test built it before.</summary>
    public static async Task<string> PresetAsync(string preset, ulong seed, string? name = null)
    {
        var entry = Path.Combine(CacheRoot.Value, $"{preset}-{seed}-{Key(preset, seed)}");
        var folder = Path.Combine(entry, name ?? preset);
        if (!ModelFolderBuilder.IsModelFolder(folder))
        {
            // Test projects run in parallel: one builds, the others wait on the lock instead of building the same
            // bytes again. The build itself is atomic (a private folder renamed into place), so a crash leaves no
            // half-written model behind, and the OS releases the lock of a process that died.
            Directory.CreateDirectory(entry);
            using var buildLock = await LockAsync(folder + ".lock");
            await ModelFolderBuilder.EnsureBuiltAsync(folder, preset, seed, CancellationToken.None);
        }

        Directory.SetLastWriteTimeUtc(entry, DateTime.UtcNow);
        return folder;
    }

    /// <summary>Synchronous <see cref="PresetAsync"/>, for fixtures built in a constructor.</summary>
    public static string Preset(string preset, ulong seed, string? name = null) => Task.Run(() => PresetAsync(preset, seed, name)).GetAwaiter().GetResult();

    private static string Key(string preset, ulong seed)
    {
        var builder = typeof(ModelBuilder).Assembly.ManifestModule.ModuleVersionId;
        // "entry/name" is the second layout of the cache (the first put the model at the entry itself).
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"layout 2\n{preset}\n{seed}\n{builder:N}"));
        return Convert.ToHexStringLower(hash)[..16];
    }

    private static async Task<FileStream> LockAsync(string path)
    {
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive advisory lock (flock) on Unix, held until the stream is closed.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(100);
            }
        }
    }

    private static string OpenCache()
    {
        var root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "distil-test-models")).FullName;
        foreach (var entry in Directory.GetDirectories(root))
        {
            if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(entry) > Unused)
            {
                TryDelete(entry);
            }
        }

        return root;
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Another run is pruning it too, or still reading it: it goes next time.
        }
        catch (UnauthorizedAccessException)
        {
            // Another user's cache entry on a shared machine.
        }
    }
}

using System.Collections.Concurrent;
using Distil.Engine.Building;

namespace Distil.Steps;

/// <summary>
/// Builds a model folder from a preset (<c>"build": {"preset": "tiny", "seed": 1}</c>) when it does not exist yet,
/// so a fresh checkout runs the seed pipeline with no downloads. Safe when runs race: each builder writes a private
/// temporary folder and renames it into place; a loser of the rename discards its copy and uses the winner's.
/// </summary>
public static class ModelFolderBuilder
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Locks = new(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="folder"/> holds a model (its config.json is written last by the rename).</summary>
    public static bool IsModelFolder(string folder) => File.Exists(Path.Combine(folder, "config.json")) || File.Exists(Path.Combine(folder, "genai_config.json"));

    /// <returns>true when this call built the model, false when it was already there.</returns>
    public static async Task<bool> EnsureBuiltAsync(string folder, string preset, ulong seed, CancellationToken cancellationToken)
    {
        folder = Path.GetFullPath(folder);
        if (IsModelFolder(folder))
        {
            return false;
        }

        // Within one process, one build per folder; across processes the rename below decides.
        var gate = Locks.GetOrAdd(folder, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsModelFolder(folder))
            {
                return false;
            }

            var parent = Path.GetDirectoryName(folder)!;
            Directory.CreateDirectory(parent);
            var temp = Path.Combine(parent, $".{Path.GetFileName(folder)}.building-{Environment.ProcessId}-{Guid.NewGuid():N}");
            try
            {
                await Task.Run(() => ModelBuilder.BuildPreset(preset, seed, temp), cancellationToken).ConfigureAwait(false);
                if (Directory.Exists(folder) && !IsModelFolder(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
                {
                    Directory.Delete(folder);
                }

                Directory.Move(temp, folder);
                return true;
            }
            catch (IOException) when (IsModelFolder(folder))
            {
                return false; // another run finished first; its model is identical (same preset, same seed).
            }
            finally
            {
                if (Directory.Exists(temp))
                {
                    Directory.Delete(temp, recursive: true);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Distil.Pipeline;

/// <summary>
/// Publishes a run's outputs (data files, errors files, dataset card) as one unit. Sinks write into a staging
/// folder beside the output folder; only when every sink has finished does the staging folder replace the
/// output folder, in one atomic directory exchange (Linux renameat2 RENAME_EXCHANGE). A failed, cancelled or
/// killed run therefore leaves the previous output exactly as it was: never a card that describes other data,
/// never a <c>.partial</c> file. Files in the output folder that the run does not write are carried over
/// (hard links), so other pipelines' files sharing the folder survive.
/// </summary>
/// <remarks>
/// Where the exchange is not available the output folder is renamed aside, the staging folder renamed into
/// place and the old one deleted; a kill between those two renames is repaired by the next run (the old
/// folder is restored). When the output folder contains the run directory or the working directory it
/// cannot be swapped; files are then moved in one by one, data before the card.
/// </remarks>
public sealed class OutputPublication
{
    private const string StagingMarker = ".distil-staging-";
    private const string RetiredMarker = ".distil-retired-";

    private OutputPublication(string outputDirectory, string stagingDirectory, bool swapsFolder)
    {
        OutputDirectory = outputDirectory;
        StagingDirectory = stagingDirectory;
        SwapsFolder = swapsFolder;
    }

    /// <summary>The folder readers see.</summary>
    public string OutputDirectory { get; }

    /// <summary>Where sinks write during the run.</summary>
    public string StagingDirectory { get; }

    private bool SwapsFolder { get; }

    /// <summary>Repairs what an earlier killed run left, then creates a fresh staging folder.</summary>
    public static OutputPublication Begin(string outputDirectory, string runDirectory)
    {
        outputDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        var parent = Path.GetDirectoryName(outputDirectory);
        var swaps = parent is not null
            && !IsSameOrInside(runDirectory, outputDirectory)
            && !IsSameOrInside(Environment.CurrentDirectory, outputDirectory);
        var prefix = swaps ? Path.Combine(parent!, "." + Path.GetFileName(outputDirectory)) : Path.Combine(outputDirectory, string.Empty);
        RecoverAbandoned(outputDirectory, prefix);

        var staging = $"{prefix}{StagingMarker}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        return new OutputPublication(outputDirectory, staging, swaps);
    }

    /// <summary>Where a file written in the staging folder ends up once published.</summary>
    public string FinalPathOf(string stagedPath)
    {
        var relative = Path.GetRelativePath(StagingDirectory, stagedPath);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? stagedPath : Path.Combine(OutputDirectory, relative);
    }

    /// <summary>
    /// Makes the staged files the output. <paramref name="owned"/> lists paths (relative to the output folder)
    /// this run is responsible for even when it did not write them (an errors file that is now absent).
    /// </summary>
    public void Publish(IEnumerable<string> owned)
    {
        if (!SwapsFolder)
        {
            MoveFilesIn(owned);
            return;
        }

        if (!Directory.Exists(OutputDirectory))
        {
            Directory.Move(StagingDirectory, OutputDirectory);
            return;
        }

        var replaced = new HashSet<string>(owned, StringComparer.Ordinal);
        replaced.UnionWith(RelativeFiles(StagingDirectory));
        CarryOver(OutputDirectory, StagingDirectory, replaced);
        if (NativeRename.TryExchange(StagingDirectory, OutputDirectory))
        {
            Directory.Delete(StagingDirectory, recursive: true);
            return;
        }

        var retired = StagingDirectory.Replace(StagingMarker, RetiredMarker, StringComparison.Ordinal);
        Directory.Move(OutputDirectory, retired);
        Directory.Move(StagingDirectory, OutputDirectory);
        Directory.Delete(retired, recursive: true);
    }

    /// <summary>Drops the staged files: the previous output stays as it was.</summary>
    public void Abandon()
    {
        try
        {
            if (Directory.Exists(StagingDirectory))
            {
                Directory.Delete(StagingDirectory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A later run removes it (RecoverAbandoned); the output itself is untouched either way.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private void MoveFilesIn(IEnumerable<string> owned)
    {
        var staged = RelativeFiles(StagingDirectory).ToList();
        foreach (var relative in owned.Except(staged, StringComparer.Ordinal))
        {
            var stale = Path.Combine(OutputDirectory, relative);
            if (File.Exists(stale))
            {
                File.Delete(stale);
            }
        }

        // The card describes the data, so it is the last file to appear.
        foreach (var relative in staged.OrderBy(r => Path.GetFileName(r) == "README.md" ? 1 : 0).ThenBy(r => r, StringComparer.Ordinal))
        {
            var target = Path.Combine(OutputDirectory, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(Path.Combine(StagingDirectory, relative), target, overwrite: true);
        }

        Directory.Delete(StagingDirectory, recursive: true);
    }

    private static void RecoverAbandoned(string outputDirectory, string prefix)
    {
        var folder = Path.GetDirectoryName(prefix + "x")!;
        if (!Directory.Exists(folder))
        {
            return;
        }

        var name = Path.GetFileName(prefix + "x")[..^1];
        foreach (var leftover in Directory.GetDirectories(folder, name + ".distil-*"))
        {
            var marker = Path.GetFileName(leftover)[name.Length..];
            if (!TryOwner(marker, out var pid) || IsAlive(pid))
            {
                continue;
            }

            if (marker.StartsWith(RetiredMarker, StringComparison.Ordinal) && !Directory.Exists(outputDirectory))
            {
                // Killed between moving the old output aside and moving the new one in: the old one comes back.
                Directory.Move(leftover, outputDirectory);
                continue;
            }

            Directory.Delete(leftover, recursive: true);
        }
    }

    private static bool TryOwner(string marker, out int pid)
    {
        pid = 0;
        var start = marker.StartsWith(StagingMarker, StringComparison.Ordinal) ? StagingMarker.Length
            : marker.StartsWith(RetiredMarker, StringComparison.Ordinal) ? RetiredMarker.Length : -1;
        var dash = start < 0 ? -1 : marker.IndexOf('-', start);
        return dash > start && int.TryParse(marker[start..dash], out pid);
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void CarryOver(string from, string to, HashSet<string> replaced)
    {
        foreach (var relative in RelativeFiles(from))
        {
            if (replaced.Contains(relative))
            {
                continue;
            }

            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            NativeRename.LinkOrCopy(Path.Combine(from, relative), target);
        }
    }

    private static IEnumerable<string> RelativeFiles(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f));

    private static bool IsSameOrInside(string path, string folder)
    {
        var relative = Path.GetRelativePath(folder, Path.GetFullPath(path));
        return relative == "." || (!relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative));
    }

    private static class NativeRename
    {
        private const int AtCurrentDirectory = -100;
        private const uint RenameExchange = 2;

        public static bool TryExchange(string a, string b)
        {
            if (!OperatingSystem.IsLinux())
            {
                return false;
            }

            try
            {
                return renameat2(AtCurrentDirectory, a, AtCurrentDirectory, b, RenameExchange) == 0;
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                return false;
            }
        }

        public static void LinkOrCopy(string source, string target)
        {
            try
            {
                if (!OperatingSystem.IsWindows() && link(source, target) == 0)
                {
                    return;
                }
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
            }

            File.Copy(source, target, overwrite: true);
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int renameat2(
            int oldDirectory, [MarshalAs(UnmanagedType.LPUTF8Str)] string oldPath, int newDirectory, [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath, uint flags);

        [DllImport("libc", SetLastError = true)]
        private static extern int link([MarshalAs(UnmanagedType.LPUTF8Str)] string existing, [MarshalAs(UnmanagedType.LPUTF8Str)] string created);
    }
}

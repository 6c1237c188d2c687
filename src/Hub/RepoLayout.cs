using System.Text.RegularExpressions;
using Parquet.Schema;

namespace Distil.Hub;

/// <summary>
/// The files of the published repository, built the same way for an upload and for <c>--to-dir</c>:
/// <c>data/train-0000i-of-0000N.parquet</c> (one shard per source file, re-split when a row group is too
/// large for the viewer), <c>README.md</c> whose configs point at them, and <c>pipeline.json</c>.
/// Sources with different schemas become separate configs under <c>data/&lt;config&gt;/</c>. Files already laid
/// out as <c>&lt;config&gt;/&lt;split&gt;-NNNNN-of-NNNNN.parquet</c> (see <see cref="ConfigLayout"/>) keep their
/// paths, configurations and splits.
/// </summary>
internal static partial class RepoLayout
{
    /// <summary>
    /// Lists the repository's files. Generated files (card, re-split shards) are written under
    /// <paramref name="workDirectory"/> at their repository path; the others point at their source.
    /// </summary>
    public static async Task<IReadOnlyList<RepoFile>> BuildAsync(DatasetSource source, string workDirectory, string title, int maxRowsPerRowGroup, CancellationToken cancellationToken)
    {
        var inspected = new List<(string Path, long Rows, long LargestRowGroup, ParquetSchema Schema)>();
        foreach (var path in source.ParquetFiles)
        {
            var (rows, largest, schema) = await ParquetShard.InspectAsync(path, cancellationToken).ConfigureAwait(false);
            inspected.Add((path, rows, largest, schema));
        }

        var files = new List<RepoFile>();
        var configs = new List<PublishedCard.Config>();
        var usedNames = new HashSet<string>(StringComparer.Ordinal);
        var laidOut = inspected.Select(f => (File: f, IsLaidOut: ConfigLayout.TryParse(f.Path, out var root, out var folder, out var config, out var split), Root: root, Folder: folder, Config: config, Split: split))
            .Where(f => f.IsLaidOut)
            .ToList();

        // Files already in the Hub's config/split layout (format_outputs) keep their paths, configs and splits.
        foreach (var config in laidOut.GroupBy(f => (f.Root, f.Folder, f.Config)))
        {
            usedNames.Add(config.Key.Config);
            foreach (var file in config)
            {
                files.Add(await RepoFileAsync(file.File, $"{file.Folder}/{Path.GetFileName(file.File.Path)}", workDirectory, maxRowsPerRowGroup, cancellationToken).ConfigureAwait(false));
            }

            var splits = config.Select(f => f.Split).Distinct(StringComparer.Ordinal)
                .Select(split => new ConfigSplit(split, [ConfigLayout.GlobOf(config.Key.Folder, split)]))
                .ToList();
            var columns = config.First().File.Schema.Fields.Select(f => f.Name).ToList();
            configs.Add(new PublishedCard.Config(new ConfigFiles(config.Key.Config, splits), config.Sum(f => f.File.Rows), columns));
        }

        var groups = new List<List<(string Path, long Rows, long LargestRowGroup, ParquetSchema Schema)>>();
        foreach (var file in inspected.Except(laidOut.Select(f => f.File)))
        {
            var group = groups.FirstOrDefault(g => g[0].Schema.Equals(file.Schema));
            if (group is null)
            {
                groups.Add([file]);
            }
            else
            {
                group.Add(file);
            }
        }

        foreach (var group in groups)
        {
            var alone = groups.Count == 1 && usedNames.Add("default");
            var name = alone ? "default" : UniqueName(ConfigName(group[0].Path), usedNames);
            var folder = alone ? ConfigLayout.DefaultFolder : $"{ConfigLayout.DefaultFolder}/{name}";
            for (var i = 0; i < group.Count; i++)
            {
                files.Add(await RepoFileAsync(group[i], $"{folder}/train-{i:D5}-of-{group.Count:D5}.parquet", workDirectory, maxRowsPerRowGroup, cancellationToken).ConfigureAwait(false));
            }

            var columns = group[0].Schema.Fields.Select(f => f.Name).ToList();
            configs.Add(new PublishedCard.Config(name, $"{folder}/train-*", group.Sum(f => f.Rows), columns));
        }

        var existingCard = source.CardFile is null ? null : await File.ReadAllTextAsync(source.CardFile, cancellationToken).ConfigureAwait(false);
        var cardPath = LocalPath(workDirectory, "README.md");
        Directory.CreateDirectory(Path.GetDirectoryName(cardPath)!);
        string card;
        try
        {
            card = PublishedCard.Render(existingCard, configs, title, source.PipelineName, source.PipelineFile is not null);
        }
        catch (FormatException e)
        {
            throw new HubPublishException($"{source.CardFile}: {e.Message}");
        }

        await File.WriteAllTextAsync(cardPath, card, cancellationToken).ConfigureAwait(false);
        files.Add(new RepoFile("README.md", cardPath));

        if (source.PipelineFile is not null)
        {
            files.Add(new RepoFile("pipeline.json", source.PipelineFile));
        }

        return files;
    }

    /// <summary>
    /// Writes the layout into <paramref name="directory"/>: a new or empty folder, or one that holds only an
    /// earlier export (README.md, pipeline.json, data/), which is replaced so that no stale shard misleads the viewer.
    /// Any other content makes it refuse, leaving the folder untouched.
    /// </summary>
    public static async Task<IReadOnlyList<RepoFile>> WriteToDirectoryAsync(DatasetSource source, string directory, string title, int maxRowsPerRowGroup, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(directory);
        if (Directory.Exists(root))
        {
            var entries = Directory.EnumerateFileSystemEntries(root).Select(Path.GetFileName).ToList();
            var foreign = entries.Where(e => e is not ("README.md" or "pipeline.json" or "data") && !IsExportedConfig(Path.Combine(root, e!))).ToList();
            if (foreign.Count > 0)
            {
                throw new HubPublishException(
                    $"{root}: the folder holds other files than an earlier export ({string.Join(", ", foreign.Take(3))}); give --to-dir an empty or new folder");
            }

            foreach (var folder in entries.Where(e => Directory.Exists(Path.Combine(root, e!)) && (e == "data" || IsExportedConfig(Path.Combine(root, e!)))))
            {
                Directory.Delete(Path.Combine(root, folder!), recursive: true);
            }

            File.Delete(Path.Combine(root, "README.md"));
            File.Delete(Path.Combine(root, "pipeline.json"));
        }

        Directory.CreateDirectory(root);
        var files = await BuildAsync(source, root, title, maxRowsPerRowGroup, cancellationToken).ConfigureAwait(false);
        var written = new List<RepoFile>();
        foreach (var file in files)
        {
            var target = LocalPath(root, file.PathInRepo);
            if (!string.Equals(Path.GetFullPath(file.LocalPath), target, StringComparison.Ordinal))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await using var input = File.OpenRead(file.LocalPath);
                await using var output = File.Create(target);
                await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            }

            written.Add(file with { LocalPath = target });
        }

        return written;
    }

    /// <summary>The file at <paramref name="pathInRepo"/>: the source itself, or a re-split copy when a row group is too large for the viewer.</summary>
    private static async Task<RepoFile> RepoFileAsync((string Path, long Rows, long LargestRowGroup, ParquetSchema Schema) file, string pathInRepo, string workDirectory, int maxRowsPerRowGroup, CancellationToken cancellationToken)
    {
        if (file.LargestRowGroup <= maxRowsPerRowGroup)
        {
            return new RepoFile(pathInRepo, file.Path);
        }

        var local = LocalPath(workDirectory, pathInRepo);
        await ParquetShard.ResplitAsync(file.Path, local, maxRowsPerRowGroup, cancellationToken).ConfigureAwait(false);
        return new RepoFile(pathInRepo, local);
    }

    /// <summary>A folder of an earlier export's configuration: nothing in it but shards in the config/split layout.</summary>
    private static bool IsExportedConfig(string path) =>
        Directory.Exists(path)
        && Directory.EnumerateFileSystemEntries(path).All(e => File.Exists(e) && ConfigLayout.TryParse(e, out _, out _, out _, out _));

    private static string LocalPath(string root, string pathInRepo) => Path.GetFullPath(Path.Combine(root, pathInRepo.Replace('/', Path.DirectorySeparatorChar)));

    private static string ConfigName(string parquetPath)
    {
        var name = InvalidConfigChars().Replace(Path.GetFileNameWithoutExtension(parquetPath), "_").Trim('_');
        return name.Length == 0 ? "config" : name;
    }

    private static string UniqueName(string name, HashSet<string> used)
    {
        var candidate = name;
        for (var i = 2; !used.Add(candidate); i++)
        {
            candidate = $"{name}_{i}";
        }

        return candidate;
    }

    [GeneratedRegex("[^A-Za-z0-9_-]+")]
    private static partial Regex InvalidConfigChars();
}

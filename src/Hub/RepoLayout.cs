using System.Text.RegularExpressions;
using Parquet.Schema;

namespace Distil.Hub;

/// <summary>
/// The files of the published repository, built the same way for an upload and for <c>--to-dir</c>:
/// <c>data/train-0000i-of-0000N.parquet</c> (one shard per source file, re-split when a row group is too
/// large for the viewer), <c>README.md</c> whose configs point at them, and <c>pipeline.json</c>.
/// Sources with different schemas become separate configs under <c>data/&lt;config&gt;/</c>.
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

        var groups = new List<List<(string Path, long Rows, long LargestRowGroup, ParquetSchema Schema)>>();
        foreach (var file in inspected)
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

        var files = new List<RepoFile>();
        var configs = new List<DatasetCard.Config>();
        var usedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var name = groups.Count == 1 ? "default" : UniqueName(ConfigName(group[0].Path), usedNames);
            var folder = groups.Count == 1 ? "data" : $"data/{name}";
            for (var i = 0; i < group.Count; i++)
            {
                var pathInRepo = $"{folder}/train-{i:D5}-of-{group.Count:D5}.parquet";
                var local = group[i].Path;
                if (group[i].LargestRowGroup > maxRowsPerRowGroup)
                {
                    local = LocalPath(workDirectory, pathInRepo);
                    await ParquetShard.ResplitAsync(group[i].Path, local, maxRowsPerRowGroup, cancellationToken).ConfigureAwait(false);
                }

                files.Add(new RepoFile(pathInRepo, local));
            }

            var columns = group[0].Schema.Fields.Select(f => f.Name).ToList();
            configs.Add(new DatasetCard.Config(name, $"{folder}/train-*", group.Sum(f => f.Rows), columns));
        }

        var existingCard = source.CardFile is null ? null : await File.ReadAllTextAsync(source.CardFile, cancellationToken).ConfigureAwait(false);
        var cardPath = LocalPath(workDirectory, "README.md");
        Directory.CreateDirectory(Path.GetDirectoryName(cardPath)!);
        await File.WriteAllTextAsync(cardPath, DatasetCard.Render(existingCard, configs, title, source.PipelineName, source.PipelineFile is not null), cancellationToken).ConfigureAwait(false);
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
            var foreign = entries.Where(e => e is not ("README.md" or "pipeline.json" or "data")).ToList();
            if (foreign.Count > 0)
            {
                throw new HubPublishException(
                    $"{root}: the folder holds other files than an earlier export ({string.Join(", ", foreign.Take(3))}); give --to-dir an empty or new folder");
            }

            if (Directory.Exists(Path.Combine(root, "data")))
            {
                Directory.Delete(Path.Combine(root, "data"), recursive: true);
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

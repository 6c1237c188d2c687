using Distil.Server.Hosting;
using Distil.Steps;
using Distil.Server.Storage;
using Parquet;
using Parquet.Utils;

namespace Distil.Server.Jobs;

/// <summary>
/// Writes a run's final dataset: for each file the shards produced, the shards' files concatenated in
/// shard order (Parquet that a sink of the definition wrote: rows rewritten through that sink's writer and
/// row group size, so the file has a single process's bytes (<see cref="ParquetConcatenation"/>); other Parquet:
/// row groups copied as they are; JSONL line by line; any other file is taken from the first shard; <see cref="RunJobs"/> then rewrites
/// dataset cards from the merged rows). The result appears
/// at <c>outputs/&lt;pipeline&gt;/&lt;run&gt;/</c> by rename, so a crash never leaves half a dataset there.
/// </summary>
internal sealed class DatasetMerger(IRunStore store, ServiceOptions options)
{
    public sealed record Merged(string Directory, IReadOnlyList<string> Files);

    /// <param name="rowGroupSizeOf">The row group size of the sink that writes a Parquet file (null: no sink claims it).</param>
    public async Task<Merged> MergeAsync(RunRecord run, Func<string, int?> rowGroupSizeOf, CancellationToken cancellationToken)
    {
        var target = Path.GetFullPath(Path.Combine(options.OutputDirectory, run.Pipeline, run.Id.ToString("N")));
        var staging = Path.GetFullPath(Path.Combine(options.WorkDirectory, "merge", $"{run.Id:N}-{Guid.NewGuid():N}"));
        Directory.CreateDirectory(staging);
        try
        {
            // A file may come from some shards only (a log of rejected rows, say).
            var namesByShard = new List<IReadOnlyList<string>>();
            for (var shard = 0; shard < run.ShardCount; shard++)
            {
                namesByShard.Add(await store.GetShardFileNamesAsync(run.Id, shard, cancellationToken));
            }

            var merged = new List<string>();
            foreach (var name in namesByShard.SelectMany(n => n).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                var shards = Enumerable.Range(0, run.ShardCount).Where(i => namesByShard[i].Contains(name, StringComparer.Ordinal)).ToList();
                merged.Add(await MergeFileAsync(run, name, shards, staging, rowGroupSizeOf(name), cancellationToken));
            }

            // Replace any earlier attempt's output whole.
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var final = Path.Combine(staging, "final");
            if (Directory.Exists(target))
            {
                Directory.Delete(target, recursive: true);
            }

            Directory.Move(final, target);
            return new Merged(target, merged.Select(f => Path.Combine(target, Path.GetRelativePath(final, f))).ToList());
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    private async Task<string> MergeFileAsync(RunRecord run, string name, IReadOnlyList<int> shards, string staging, int? rowGroupSize, CancellationToken cancellationToken)
    {
        var parts = new List<FileInfo>();
        foreach (var shard in shards)
        {
            var part = Path.Combine(staging, "parts", shard.ToString("D6", System.Globalization.CultureInfo.InvariantCulture), name);
            Directory.CreateDirectory(Path.GetDirectoryName(part)!);
            await using (var stream = File.Create(part))
            {
                await store.CopyShardFileAsync(run.Id, shard, name, stream, cancellationToken);
            }

            parts.Add(new FileInfo(part));
        }

        var destination = Path.Combine(staging, "final", name);
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        if (name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            await ConcatenateLinesAsync(parts, destination, cancellationToken);
            return destination;
        }

        if (!name.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            // Not row data (a dataset card, say): rows cannot be concatenated, so the first shard's copy stands for the run.
            File.Copy(parts[0].FullName, destination);
            return destination;
        }

        var kept = await NonEmptyPartsAsync(parts, cancellationToken);
        await CheckSchemasAsync(run, name, kept, cancellationToken);
        if (rowGroupSize is { } size)
        {
            await ParquetConcatenation.WriteAsync(kept.Select(p => p.FullName).ToList(), destination, size, cancellationToken);
            return destination;
        }

        await using (var output = File.Create(destination))
        {
            await using var merger = new FileMerger(kept);
            await merger.MergeFilesAsync(output, cancellationToken: cancellationToken);
        }

        return destination;
    }

    /// <summary>JSON Lines (datasets, or the sink's rejected-row log) concatenate byte for byte, each part ending its last line.</summary>
    private static async Task ConcatenateLinesAsync(List<FileInfo> parts, string destination, CancellationToken cancellationToken)
    {
        await using var output = File.Create(destination);
        foreach (var part in parts.Where(p => p.Length > 0))
        {
            await using (var input = part.OpenRead())
            {
                await input.CopyToAsync(output, cancellationToken);
            }

            output.Seek(-1, SeekOrigin.Current);
            if (output.ReadByte() != '\n')
            {
                output.WriteByte((byte)'\n');
            }
        }
    }

    /// <summary>Shards whose rows were all filtered out add nothing; one part is kept so that the schema survives.</summary>
    private static async Task<List<FileInfo>> NonEmptyPartsAsync(List<FileInfo> parts, CancellationToken cancellationToken)
    {
        var kept = new List<FileInfo>();
        foreach (var part in parts)
        {
            await using var reader = await ParquetReader.CreateAsync(part.FullName, cancellationToken: cancellationToken);
            if (reader.RowGroups.Sum(g => g.RowCount) > 0)
            {
                kept.Add(part);
            }
        }

        return kept.Count > 0 ? kept : [parts[0]];
    }

    private static async Task CheckSchemasAsync(RunRecord run, string name, List<FileInfo> parts, CancellationToken cancellationToken)
    {
        var first = await ParquetReader.ReadSchemaAsync(parts[0].FullName);
        for (var i = 1; i < parts.Count; i++)
        {
            var schema = await ParquetReader.ReadSchemaAsync(parts[i].FullName);
            if (!schema.Equals(first))
            {
                throw new DatasetMergeException(
                    $"run {run.Id}: shards wrote '{name}' with different schemas ({first} vs {schema}); the sink must write the same columns and types for every shard");
            }
        }
    }
}

/// <summary>Shard outputs cannot be combined into one dataset (their Parquet schemas differ); retrying cannot help.</summary>
internal sealed class DatasetMergeException(string message) : Exception(message);

using System.Globalization;
using System.Text;
using Distil.Hub;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>How many rows a review changed in what was published.</summary>
public sealed record ReviewCounts(long Reviewed, long Flipped, long Rejected, long PublishedRows);

/// <summary>
/// A dataset with a review log applied, staged in a folder beside the data that is removed on dispose. The source
/// files are never changed, so publishing the same log twice publishes the same bytes.
/// </summary>
public sealed class ReviewedDataset : IAsyncDisposable
{
    private readonly string _staging;

    private ReviewedDataset(string staging, DatasetSource source, ReviewCounts counts)
    {
        _staging = staging;
        Source = source;
        Counts = counts;
    }

    public DatasetSource Source { get; }

    public ReviewCounts Counts { get; }

    /// <summary>
    /// Rewrites each Parquet file of <paramref name="source"/> that the log names (matched by file name): rejected rows
    /// left out, flipped rows with chosen_*/rejected_* swapped, every row given <see cref="ReviewActions.OverrideColumn"/>;
    /// the card gets a "Human review" section with the counts. A log entry whose row is past the end of its file, or whose
    /// pair is not the one that was reviewed (its digest differs), is an error naming the log entry.
    /// </summary>
    public static async Task<ReviewedDataset> PrepareAsync(DatasetSource source, IReadOnlyList<ReviewEntry> log, CancellationToken cancellationToken)
    {
        var decisions = ReviewLog.Effective(log);
        var byFile = decisions.Values.GroupBy(e => e.File).ToDictionary(g => g.Key, g => g.ToDictionary(e => e.Row), StringComparer.Ordinal);
        var unknown = byFile.Keys.Where(f => !source.ParquetFiles.Any(p => Path.GetFileName(p) == f)).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidDataException(
                $"the review log names {string.Join(", ", unknown)}, which the dataset in {source.Folder} does not have (it has {string.Join(", ", source.ParquetFiles.Select(Path.GetFileName))})");
        }

        var staging = Path.Combine(source.Folder, ".distil-review-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            var files = new List<string>();
            long flipped = 0, rejected = 0, published = 0;
            foreach (var file in source.ParquetFiles)
            {
                var staged = Path.Combine(staging, Path.GetRelativePath(source.Folder, file).Replace("..", "_", StringComparison.Ordinal));
                var counts = await RewriteAsync(file, staged, byFile.GetValueOrDefault(Path.GetFileName(file)) ?? [], cancellationToken);
                flipped += counts?.Flipped ?? 0;
                rejected += counts?.Rejected ?? 0;
                published += counts?.PublishedRows ?? 0;
                files.Add(counts is null ? file : staged);
            }

            var total = new ReviewCounts(decisions.Count, flipped, rejected, published);
            var card = source.CardFile is null ? null : Path.Combine(staging, Path.GetFileName(source.CardFile));
            if (card is not null)
            {
                await File.WriteAllTextAsync(card, WithReviewSection(await File.ReadAllTextAsync(source.CardFile!, cancellationToken), total), cancellationToken);
            }

            return new ReviewedDataset(staging, source with { ParquetFiles = files, CardFile = card }, total);
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(_staging))
        {
            Directory.Delete(_staging, recursive: true);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The card's "Human review" section: what the published data's reviewers changed.</summary>
    public static string WithReviewSection(string card, ReviewCounts counts)
    {
        var section = new StringBuilder()
            .Append("\n## Human review\n\n")
            .Append("| | rows |\n|---|---|\n")
            .Append(CultureInfo.InvariantCulture, $"| reviewed | {counts.Reviewed} |\n")
            .Append(CultureInfo.InvariantCulture, $"| flipped | {counts.Flipped} |\n")
            .Append(CultureInfo.InvariantCulture, $"| rejected | {counts.Rejected} |\n")
            .Append(CultureInfo.InvariantCulture, $"| published | {counts.PublishedRows} |\n\n")
            .Append($"Flipped pairs have chosen and rejected swapped and `{ReviewActions.OverrideColumn}` = `{ReviewActions.Flipped}`; ")
            .Append("rejected pairs are left out; every other row has it null. Counts above the review section describe the data before review.\n");
        return card.TrimEnd('\n') + "\n" + section;
    }

    /// <summary>The file with the log applied, or null (left as it is) for a file without pairs that the log does not name.</summary>
    private static async Task<ReviewCounts?> RewriteAsync(string file, string destination, Dictionary<long, ReviewEntry> decisions, CancellationToken cancellationToken)
    {
        var layout = await ParquetRows.ReadLayoutAsync(file, wanted: null, stepName: "review", cancellationToken);
        if (!(layout.Columns.Contains("chosen") && layout.Columns.Contains("rejected")))
        {
            if (decisions.Count == 0)
            {
                return null;
            }

            throw new InvalidDataException($"the review log names {Path.GetFileName(file)}, which has no chosen and rejected columns");
        }

        if (decisions.Keys.Where(r => r >= layout.Rows).Select(r => decisions[r]).FirstOrDefault() is { } beyond)
        {
            throw new InvalidDataException($"the review log's entry for {beyond.File} row {beyond.Row} ({beyond.Action} by {beyond.Reviewer}) is past the file's {layout.Rows} rows");
        }

        var swaps = layout.Columns.Where(c => c.StartsWith("chosen", StringComparison.Ordinal) && layout.Columns.Contains("rejected" + c["chosen".Length..])).ToList();
        var groupSize = (int)Math.Clamp(layout.GroupRows.DefaultIfEmpty(1).Max(), 1, int.MaxValue);
        long flipped = 0, rejected = 0;
        await using var writer = new ParquetRowWriter(destination, groupSize, $"applying the review log to {Path.GetFileName(file)}");
        writer.Open();
        await foreach (var row in ParquetRows.ReadAsync(file, layout, firstId: 0, skipBefore: 0, cancellationToken))
        {
            string? mark = null;
            if (decisions.TryGetValue(row.Id, out var decision))
            {
                if (PairBrowser.Digest(row) != decision.Digest)
                {
                    throw new InvalidDataException(
                        $"the review log's entry for {decision.File} row {decision.Row} ({decision.Action} by {decision.Reviewer} at {decision.At:u}) was made on another pair than the file now holds (digest {decision.Digest}, now {PairBrowser.Digest(row)}); was the run written again?");
                }

                if (decision.Action == ReviewActions.Reject)
                {
                    rejected++;
                    continue;
                }

                if (decision.Action == ReviewActions.Flip)
                {
                    foreach (var chosen in swaps)
                    {
                        var other = "rejected" + chosen["chosen".Length..];
                        (row[chosen], row[other]) = (row[other], row[chosen]);
                    }

                    mark = ReviewActions.Flipped;
                    flipped++;
                }
            }

            row[ReviewActions.OverrideColumn] = mark;
            await writer.AddAsync(row.Id, row.Values, cancellationToken);
        }

        if (writer.Rows == 0)
        {
            throw new InvalidDataException($"the review log rejects every row of {Path.GetFileName(file)}: there is nothing left to publish");
        }

        await writer.CompleteAsync(() => throw new InvalidOperationException("rows were written"), cancellationToken);
        return new ReviewCounts(decisions.Count, flipped, rejected, writer.Rows);
    }
}

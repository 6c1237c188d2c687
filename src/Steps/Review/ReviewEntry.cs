using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Distil.Steps;

/// <summary>
/// One decision of a person about one preference pair of a finished run's output: which file (its name, as the sink
/// wrote it), which row (0-based, in file order), what to do, who decided and when. <see cref="Digest"/> fingerprints
/// the pair as reviewed, so a log applied to other data (a rerun that wrote other rows) is refused instead of flipping
/// the wrong pair. Entries are only ever appended; a row's latest entry is the one that counts.
/// </summary>
public sealed record ReviewEntry(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("row")] long Row,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("reviewer")] string Reviewer,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("digest")] string Digest);

/// <summary>What a reviewer can decide about a pair, and the <c>human_override</c> values publishing writes.</summary>
public static class ReviewActions
{
    /// <summary>Swap chosen and rejected (and every chosen_*/rejected_* column pair).</summary>
    public const string Flip = "flip";

    /// <summary>Leave the pair out of the published data.</summary>
    public const string Reject = "reject";

    /// <summary>Seen and kept as it is; also what undoes an earlier flip or reject of the row.</summary>
    public const string Keep = "keep";

    public static readonly IReadOnlyList<string> All = [Flip, Reject, Keep];

    /// <summary>The published column that says what a person changed in a row.</summary>
    public const string OverrideColumn = "human_override";

    /// <summary><see cref="OverrideColumn"/> of a flipped pair; rows nobody changed (kept or never reviewed) hold null.</summary>
    public const string Flipped = "flipped";
}

/// <summary>The rules over a whole log: which entry counts per row, and a fingerprint of what the log decides.</summary>
public static class ReviewLog
{
    /// <summary>The file name of the log kept next to a run's output (runs without Postgres, and <c>distil publish</c>).</summary>
    public const string FileName = "review.jsonl";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Each reviewed row's latest entry (entries in the order they were appended).</summary>
    public static IReadOnlyDictionary<(string File, long Row), ReviewEntry> Effective(IEnumerable<ReviewEntry> entries)
    {
        var latest = new Dictionary<(string, long), ReviewEntry>();
        foreach (var entry in entries)
        {
            latest[(entry.File, entry.Row)] = entry;
        }

        return latest;
    }

    /// <summary>
    /// A fingerprint of the decisions (not of who made them or when): the same decisions give the same text, so a
    /// publish marked with it commits once however often it is repeated, and a changed decision publishes again.
    /// </summary>
    public static string DecisionsDigest(IEnumerable<ReviewEntry> entries)
    {
        var text = new StringBuilder();
        foreach (var ((file, row), entry) in Effective(entries).OrderBy(e => e.Key.File, StringComparer.Ordinal).ThenBy(e => e.Key.Row))
        {
            text.Append(file).Append('\t').Append(row).Append('\t').Append(entry.Action).Append('\t').Append(entry.Digest).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    /// <summary>The log of a dataset on disk: <see cref="FileName"/> in its folder, else beside its first Parquet file; null when neither exists.</summary>
    public static string? FindFile(Distil.Hub.DatasetSource source) =>
        new[] { source.Folder, Path.GetDirectoryName(source.ParquetFiles[0])! }.Select(f => Path.Combine(f, FileName)).FirstOrDefault(System.IO.File.Exists);

    public static string ToJsonLine(ReviewEntry entry) => JsonSerializer.Serialize(entry, Json);

    /// <summary>Reads a log file; a line that is not an entry is an error naming the file and the line.</summary>
    public static IReadOnlyList<ReviewEntry> ReadFile(string path)
    {
        var entries = new List<ReviewEntry>();
        if (!System.IO.File.Exists(path))
        {
            return entries;
        }

        var number = 0;
        foreach (var line in System.IO.File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            ReviewEntry? entry;
            try
            {
                entry = JsonSerializer.Deserialize<ReviewEntry>(line, Json);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: line {number}: not a review entry ({e.Message})", e);
            }

            if (entry is null || string.IsNullOrEmpty(entry.File) || entry.Row < 0 || !ReviewActions.All.Contains(entry.Action) || string.IsNullOrEmpty(entry.Digest))
            {
                throw new InvalidDataException(
                    $"{path}: line {number}: a review entry needs \"file\", \"row\" (≥ 0), \"action\" ({string.Join(", ", ReviewActions.All)}), \"reviewer\", \"at\" and \"digest\"");
            }

            entries.Add(entry);
        }

        return entries;
    }

    /// <summary>Appends one entry as a line, flushed to disk before returning.</summary>
    public static void AppendFile(string path, ReviewEntry entry)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var bytes = Encoding.UTF8.GetBytes(ToJsonLine(entry) + "\n");
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }
}

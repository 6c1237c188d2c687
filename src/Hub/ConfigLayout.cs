using System.Text.RegularExpressions;

namespace Distil.Hub;

/// <summary>One split of a dataset configuration and the files (paths or globs, relative to the card) that hold it.</summary>
public sealed record ConfigSplit(string Split, IReadOnlyList<string> Paths);

/// <summary>A dataset configuration as the card's <c>configs</c> YAML lists it: what <c>load_dataset(repo, name)</c> loads.</summary>
public sealed record ConfigFiles(string Name, IReadOnlyList<ConfigSplit> Splits);

/// <summary>
/// The Hub's layout for several configurations and splits, as <c>datasets</c>' <c>push_to_hub(config_name=…)</c>
/// writes it: <c>&lt;config&gt;/&lt;split&gt;-00000-of-00001.parquet</c>, listed in the card as
/// <c>- config_name: &lt;config&gt;</c> with <c>data_files: - split: &lt;split&gt; path: &lt;config&gt;/&lt;split&gt;-*</c>.
/// One home for naming such files and recognising them; <see cref="CardFrontMatter.Configs"/> writes them into the card.
/// </summary>
public static partial class ConfigLayout
{
    /// <summary>The folder of the default configuration in a repository the publisher lays out.</summary>
    public const string DefaultFolder = "data";

    /// <summary>Where shard <paramref name="shard"/> of <paramref name="shards"/> of a split goes, relative to the card.</summary>
    public static string PathOf(string config, string split, int shard = 0, int shards = 1) => $"{config}/{split}-{shard:D5}-of-{shards:D5}.parquet";

    /// <summary>The glob that covers every shard of a split.</summary>
    public static string GlobOf(string folder, string split) => $"{folder}/{split}-*";

    /// <summary>
    /// Recognises a file laid out as <c>&lt;root&gt;/&lt;config&gt;/&lt;split&gt;-NNNNN-of-NNNNN.parquet</c>; a
    /// <c>data/</c> folder is the <c>default</c> configuration, as on the Hub.
    /// </summary>
    public static bool TryParse(string path, out string root, out string folder, out string config, out string split)
    {
        root = folder = config = split = "";
        var full = Path.GetFullPath(path);
        var match = ShardName().Match(Path.GetFileName(full));
        var parent = Path.GetDirectoryName(full);
        if (!match.Success || parent is null || Path.GetDirectoryName(parent) is not { } grandparent)
        {
            return false;
        }

        folder = Path.GetFileName(parent);
        if (!ConfigName().IsMatch(folder))
        {
            return false;
        }

        root = grandparent;
        config = folder == DefaultFolder ? "default" : folder;
        split = match.Groups["split"].Value;
        return true;
    }

    /// <summary>Split names the Hub accepts (no dashes: they separate the split from the shard number).</summary>
    public static bool IsSplitName(string name) => SplitName().IsMatch(name);

    [GeneratedRegex(@"^(?<split>[A-Za-z0-9_]+)-\d{5}-of-\d{5}\.parquet$")]
    private static partial Regex ShardName();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+$")]
    private static partial Regex ConfigName();

    [GeneratedRegex(@"^[A-Za-z0-9_]+$")]
    private static partial Regex SplitName();
}

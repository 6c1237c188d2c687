using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distil.Hub;

/// <summary>A file of a Hub repository as the tree API lists it.</summary>
/// <param name="Sha256">The LFS object id (SHA-256 of the content) when the file is in LFS, to check a download.</param>
public sealed record HubRepoEntry(string Path, long Size, string? Sha256);

/// <summary>A dataset's Parquet files by config and split, and the config used when none is named.</summary>
public sealed record HubDataLayout(IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<HubRepoEntry>>> Configs, string? DefaultConfig)
{
    public bool IsEmpty => Configs.Values.All(splits => splits.Values.All(files => files.Count == 0));
}

/// <summary>
/// Which Parquet files make up each config and split, the way the Hub's dataset viewer decides: the card's
/// <c>configs</c> (<c>data_files</c> glob patterns per split) when it has them; otherwise one config, "default",
/// whose splits come from split names in folder or file names (<c>data/train-00000-of-00001.parquet</c>),
/// everything being "train" when no file names a split. The Parquet conversion branch (refs/convert/parquet)
/// has its own fixed layout, <c>&lt;config&gt;/&lt;split&gt;/NNNN.parquet</c>.
/// </summary>
public static partial class HubDataFiles
{
    public const string DefaultConfigName = "default";

    private static readonly Dictionary<string, string> SplitKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["train"] = "train",
        ["training"] = "train",
        ["validation"] = "validation",
        ["valid"] = "validation",
        ["val"] = "validation",
        ["dev"] = "validation",
        ["test"] = "test",
        ["testing"] = "test",
        ["eval"] = "test",
    };

    /// <summary>The layout of a repository's own files. <paramref name="cardConfigs"/> is the card's <c>configs</c> list, if any.</summary>
    public static HubDataLayout FromRepository(IReadOnlyList<HubRepoEntry> files, JsonElement? cardConfigs)
    {
        var parquet = files.Where(f => IsParquet(f.Path) && !f.Path.Split('/').Any(s => s.StartsWith('.'))).ToList();
        if (cardConfigs is { ValueKind: JsonValueKind.Array } configs && configs.GetArrayLength() > 0)
        {
            return FromCard(parquet, configs);
        }

        var bySplit = parquet.GroupBy(f => SplitOf(f.Path) ?? "").ToList();
        var splits = bySplit.All(g => g.Key.Length == 0)
            ? new Dictionary<string, IReadOnlyList<HubRepoEntry>> { ["train"] = Sorted(parquet) }
            : bySplit.Where(g => g.Key.Length > 0).ToDictionary(g => g.Key, g => Sorted(g), StringComparer.Ordinal);
        return new HubDataLayout(new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<HubRepoEntry>>> { [DefaultConfigName] = splits }, DefaultConfigName);
    }

    /// <summary>The layout of the Parquet conversion branch: <c>&lt;config&gt;/&lt;split&gt;/*.parquet</c> (or <c>partial-&lt;split&gt;</c> for a truncated conversion).</summary>
    public static HubDataLayout FromConversion(IReadOnlyList<HubRepoEntry> files)
    {
        var configs = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<HubRepoEntry>>>(StringComparer.Ordinal);
        foreach (var config in files.Where(f => IsParquet(f.Path) && f.Path.Count(c => c == '/') == 2).GroupBy(f => f.Path.Split('/')[0]))
        {
            configs[config.Key] = config
                .GroupBy(f => f.Path.Split('/')[1] is var folder && folder.StartsWith("partial-", StringComparison.Ordinal) ? folder["partial-".Length..] : folder)
                .ToDictionary(g => g.Key, g => Sorted(g), StringComparer.Ordinal);
        }

        return new HubDataLayout(configs, configs.ContainsKey(DefaultConfigName) ? DefaultConfigName : configs.Count == 1 ? configs.Keys.Single() : null);
    }

    private static HubDataLayout FromCard(List<HubRepoEntry> parquet, JsonElement configs)
    {
        var result = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<HubRepoEntry>>>(StringComparer.Ordinal);
        string? defaultConfig = null;
        foreach (var config in configs.EnumerateArray().Where(c => c.ValueKind == JsonValueKind.Object))
        {
            var name = config.TryGetProperty("config_name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : DefaultConfigName;
            if (config.TryGetProperty("default", out var d) && d.ValueKind == JsonValueKind.True)
            {
                defaultConfig = name;
            }

            var splits = new Dictionary<string, IReadOnlyList<HubRepoEntry>>(StringComparer.Ordinal);
            foreach (var (split, patterns) in SplitPatterns(config.TryGetProperty("data_files", out var dataFiles) ? dataFiles : default))
            {
                var matchers = patterns.Select(Glob).ToList();
                splits[split] = Sorted(parquet.Where(f => matchers.Any(m => m.IsMatch(f.Path))));
            }

            result[name] = splits;
        }

        defaultConfig ??= result.ContainsKey(DefaultConfigName) ? DefaultConfigName : result.Count == 1 ? result.Keys.Single() : null;
        return new HubDataLayout(result, defaultConfig);
    }

    /// <summary><c>data_files</c> as split → patterns: a pattern or list of them (all "train"), a list of {split, path}, or a map split → path(s).</summary>
    private static IEnumerable<(string Split, IReadOnlyList<string> Patterns)> SplitPatterns(JsonElement dataFiles)
    {
        static IReadOnlyList<string> Strings(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.String => [e.GetString()!],
            JsonValueKind.Array => e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList(),
            _ => [],
        };

        switch (dataFiles.ValueKind)
        {
            case JsonValueKind.String:
                yield return ("train", Strings(dataFiles));
                break;
            case JsonValueKind.Array when dataFiles.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                yield return ("train", Strings(dataFiles));
                break;
            case JsonValueKind.Array:
                foreach (var entry in dataFiles.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object))
                {
                    var split = entry.TryGetProperty("split", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "train";
                    yield return (split, entry.TryGetProperty("path", out var p) ? Strings(p) : []);
                }

                break;
            case JsonValueKind.Object:
                foreach (var property in dataFiles.EnumerateObject())
                {
                    yield return (property.Name, Strings(property.Value));
                }

                break;
        }
    }

    /// <summary>The split a file name or folder names (data/test-00000-of-00001.parquet, valid/part0.parquet), or null.</summary>
    private static string? SplitOf(string path)
    {
        foreach (var word in WordSplitter().Split(path))
        {
            if (SplitKeywords.TryGetValue(word, out var split))
            {
                return split;
            }
        }

        return null;
    }

    /// <summary>fsspec-style globbing, as data_files uses: '*' and '?' stay within a folder, '**' crosses folders.</summary>
    private static Regex Glob(string pattern)
    {
        var regex = new System.Text.StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                regex.Append(".*");
                i++;
                if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                {
                    i++;
                    regex.Append("/?");
                }
            }
            else
            {
                regex.Append(c switch { '*' => "[^/]*", '?' => "[^/]", _ => Regex.Escape(c.ToString()) });
            }
        }

        return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    private static bool IsParquet(string path) => path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);

    private static IReadOnlyList<HubRepoEntry> Sorted(IEnumerable<HubRepoEntry> files) => files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();

    [GeneratedRegex(@"[/\-_.]")]
    private static partial Regex WordSplitter();
}

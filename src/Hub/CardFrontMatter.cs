using System.Text;

namespace Distil.Hub;

/// <summary>
/// The YAML front matter of a dataset card: what the Hub reads (<c>pretty_name</c>, <c>license</c>, <c>tags</c>,
/// <c>size_categories</c>, <c>task_categories</c>, <c>configs</c>), modelled once. It is a list of top-level keys in
/// their order, each kept as its own text: setting a key rewrites only that key (in place, or appended when new),
/// so a card written by hand keeps its other keys, comments and layout to the letter.
/// </summary>
public sealed class CardFrontMatter
{
    public const string PrettyNameKey = "pretty_name";
    public const string LicenseKey = "license";
    public const string TagsKey = "tags";
    public const string SizeCategoriesKey = "size_categories";
    public const string TaskCategoriesKey = "task_categories";
    public const string ConfigsKey = "configs";

    /// <summary>Each top-level key's lines (the key's line and those under it); key "" holds lines before the first key.</summary>
    private readonly List<(string Key, string Text)> _entries = [];

    /// <summary>The card line of the front matter's first line, for errors.</summary>
    private readonly int _firstLine = 2;

    public CardFrontMatter()
    {
    }

    private CardFrontMatter(int firstLine) => _firstLine = firstLine;

    public string? PrettyName
    {
        get => ScalarOf(PrettyNameKey);
        set => SetScalar(PrettyNameKey, value);
    }

    /// <summary>An SPDX-style identifier the Hub knows (e.g. <c>apache-2.0</c>, <c>mit</c>).</summary>
    public string? License
    {
        get => ScalarOf(LicenseKey);
        set => SetScalar(LicenseKey, value);
    }

    public IReadOnlyList<string> Tags
    {
        get => ListOf(TagsKey);
        set => SetList(TagsKey, value);
    }

    /// <summary>The Hub's size buckets (see <see cref="HubSizeCategory"/>).</summary>
    public IReadOnlyList<string> SizeCategories
    {
        get => ListOf(SizeCategoriesKey);
        set => SetList(SizeCategoriesKey, value);
    }

    public IReadOnlyList<string> TaskCategories
    {
        get => ListOf(TaskCategoriesKey);
        set => SetList(TaskCategoriesKey, value);
    }

    /// <summary>
    /// The configurations <c>load_dataset(repo, name)</c> offers and their splits' files. Written with the first of
    /// several marked <c>default: true</c>, so <c>load_dataset(repo)</c> loads it; a split with one path writes it as a scalar.
    /// Read from any of the Hub's forms: <c>data_files</c> as a path, a list of paths (split <c>train</c>), a list of
    /// <c>split</c>/<c>path</c> maps or a map from split to path.
    /// </summary>
    public IReadOnlyList<ConfigFiles> Configs
    {
        get => ReadConfigs();
        set => Set(ConfigsKey, value.Count == 0 ? null : ConfigsYaml(value));
    }

    /// <summary>The top-level keys in their order.</summary>
    public IEnumerable<string> Keys => _entries.Select(e => e.Key).Where(k => k.Length > 0);

    /// <summary>Reads front matter (the text between the card's <c>---</c> lines) whose first line is line <paramref name="firstLine"/> of the card.</summary>
    public static CardFrontMatter Parse(string yaml, int firstLine = 2)
    {
        var frontMatter = new CardFrontMatter(firstLine);
        var text = new StringBuilder();
        var key = "";
        foreach (var line in SplitLines(yaml))
        {
            // A key's block runs on while lines are indented, list items, comments or blank.
            if (line.Length > 0 && line[0] is not (' ' or '\t' or '-' or '#'))
            {
                frontMatter.Add(key, text);
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                key = (colon < 0 ? line : line[..colon]).Trim().Trim('"', '\'');
            }

            text.Append(line).Append('\n');
        }

        frontMatter.Add(key, text);
        return frontMatter;
    }

    /// <summary>The front matter's text, without the <c>---</c> lines, each line ending in a newline.</summary>
    public string Render() => string.Concat(_entries.Select(e => e.Text));

    /// <summary>The value of <paramref name="key"/> read as YAML: a string, a list, a string-keyed map, or null when absent.</summary>
    public object? Value(string key)
    {
        var (line, text) = Find(key);
        return text is null ? null : CardYaml.Read(text, line) is Dictionary<string, object?> map ? map.GetValueOrDefault(key) : null;
    }

    /// <summary>Sets <paramref name="key"/> to the YAML <paramref name="yaml"/> (its own line(s), starting with the key), or removes it when null.</summary>
    private void Set(string key, string? yaml)
    {
        var index = _entries.FindIndex(e => e.Key == key);
        if (yaml is null)
        {
            if (index >= 0)
            {
                _entries.RemoveAt(index);
            }
        }
        else if (index >= 0)
        {
            _entries[index] = (key, yaml);
        }
        else
        {
            _entries.Add((key, yaml));
        }
    }

    private void SetScalar(string key, string? value) => Set(key, value is null ? null : $"{key}: {CardYaml.Scalar(value)}\n");

    private void SetList(string key, IReadOnlyList<string> values) =>
        Set(key, values.Count == 0 ? null : $"{key}:\n" + string.Concat(values.Select(v => $"- {CardYaml.Scalar(v)}\n")));

    private string? ScalarOf(string key) => Value(key) switch
    {
        null => null,
        string s => s,
        _ => throw new FormatException($"front matter line {Find(key).Line}: '{key}' must be a single value"),
    };

    private List<string> ListOf(string key) => Value(key) switch
    {
        null => [],
        string s => [s],
        List<object?> items when items.All(i => i is string) => items.Cast<string>().ToList(),
        _ => throw new FormatException($"front matter line {Find(key).Line}: '{key}' must be a value or a list of values"),
    };

    private List<ConfigFiles> ReadConfigs()
    {
        var line = Find(ConfigsKey).Line;
        FormatException Error(string message) => new($"front matter line {line}: '{ConfigsKey}': {message}");

        var value = Value(ConfigsKey);
        if (value is null)
        {
            return [];
        }

        var configs = new List<ConfigFiles>();
        foreach (var item in value as List<object?> ?? throw Error("must be a list of configurations"))
        {
            var config = item as Dictionary<string, object?> ?? throw Error("each configuration must be a map with config_name and data_files");
            var name = config.GetValueOrDefault("config_name") as string ?? HubDataFiles.DefaultConfigName;
            var splits = config.GetValueOrDefault("data_files") switch
            {
                string path => [new ConfigSplit("train", [path])],
                List<object?> entries when entries.All(e => e is string) => [new ConfigSplit("train", entries.Cast<string>().ToList())],
                List<object?> entries => entries.Select(e => e is Dictionary<string, object?> split && split.GetValueOrDefault("split") is string splitName
                    ? new ConfigSplit(splitName, Paths(split.GetValueOrDefault("path")) ?? throw Error($"split '{splitName}' of '{name}' has no path"))
                    : throw Error($"each data_files entry of '{name}' must be a map with split and path")).ToList(),
                Dictionary<string, object?> bySplit => bySplit.Select(s => new ConfigSplit(s.Key, Paths(s.Value) ?? throw Error($"split '{s.Key}' of '{name}' has no path"))).ToList(),
                _ => throw Error($"'{name}' has no data_files"),
            };
            configs.Add(new ConfigFiles(name, splits));
        }

        return configs;
    }

    private static List<string>? Paths(object? value) => value switch
    {
        string path => [path],
        List<object?> paths when paths.Count > 0 && paths.All(p => p is string) => paths.Cast<string>().ToList(),
        _ => null,
    };

    private static string ConfigsYaml(IReadOnlyList<ConfigFiles> configs)
    {
        var yaml = new StringBuilder(ConfigsKey).Append(":\n");
        for (var i = 0; i < configs.Count; i++)
        {
            yaml.Append("- config_name: ").Append(CardYaml.Scalar(configs[i].Name)).Append('\n');
            if (configs.Count > 1 && i == 0)
            {
                yaml.Append("  default: true\n");
            }

            yaml.Append("  data_files:\n");
            foreach (var split in configs[i].Splits)
            {
                yaml.Append("  - split: ").Append(CardYaml.Scalar(split.Split)).Append('\n');
                if (split.Paths.Count == 1)
                {
                    yaml.Append("    path: ").Append(CardYaml.Scalar(split.Paths[0])).Append('\n');
                    continue;
                }

                yaml.Append("    path:\n");
                foreach (var path in split.Paths)
                {
                    yaml.Append("    - ").Append(CardYaml.Scalar(path)).Append('\n');
                }
            }
        }

        return yaml.ToString();
    }

    /// <summary>The card line where <paramref name="key"/> starts and its text, or null text when absent.</summary>
    private (int Line, string? Text) Find(string key)
    {
        var line = _firstLine;
        foreach (var (k, text) in _entries)
        {
            if (k == key)
            {
                return (line, text);
            }

            line += text.Count(c => c == '\n');
        }

        return (line, null);
    }

    private void Add(string key, StringBuilder text)
    {
        if (text.Length > 0)
        {
            _entries.Add((key, text.ToString()));
            text.Clear();
        }
    }

    /// <summary>The lines of <paramref name="yaml"/>, without the empty one after its last newline.</summary>
    private static IEnumerable<string> SplitLines(string yaml)
    {
        var lines = yaml.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        return yaml.EndsWith('\n') ? lines[..^1] : lines;
    }
}

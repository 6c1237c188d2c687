using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Distil.Hub;

/// <summary>
/// The dataset card (README.md) of the published repository. An existing card keeps everything but its
/// YAML <c>configs</c> block, which is replaced so that the dataset viewer finds the Parquet under
/// <c>data/</c>; without a card a minimal one is written.
/// </summary>
internal static partial class DatasetCard
{
    /// <summary>A dataset configuration: its splits and their Parquet files in the repository, its rows and columns.</summary>
    public sealed record Config(ConfigFiles Files, long Rows, IReadOnlyList<string> Columns)
    {
        /// <summary>One split, <c>train</c>, of the files <paramref name="dataFiles"/> (a glob).</summary>
        public Config(string name, string dataFiles, long rows, IReadOnlyList<string> columns)
            : this(new ConfigFiles(name, [new ConfigSplit("train", [dataFiles])]), rows, columns)
        {
        }

        public string Name => Files.Name;
    }

    /// <param name="existing">The run's card, or null to generate one.</param>
    /// <param name="withDefinition">Whether pipeline.json is published too (the generated card points at it).</param>
    public static string Render(string? existing, IReadOnlyList<Config> configs, string title, string? pipelineName, bool withDefinition = false)
    {
        var configsYaml = ConfigsYaml(configs);
        if (existing is null)
        {
            return Generate(configsYaml, configs, title, pipelineName, withDefinition);
        }

        var text = existing.Replace("\r\n", "\n", StringComparison.Ordinal);
        var match = FrontMatter().Match(text);
        if (!match.Success)
        {
            return $"---\n{configsYaml}---\n\n{text}";
        }

        var yaml = match.Groups["yaml"].Value;
        var body = text[match.Length..];
        return $"---\n{ReplaceTopLevelKey(yaml, "configs", configsYaml)}---\n{body}";
    }

    private static string ConfigsYaml(IReadOnlyList<Config> configs) => ConfigLayout.Yaml(configs.Select(c => c.Files).ToList());

    /// <summary>
    /// Replaces the block of a top-level key (its line and every following line that is indented, a list item
    /// or blank) with <paramref name="replacement"/>, keeping its position; appends when the key is absent.
    /// </summary>
    internal static string ReplaceTopLevelKey(string yaml, string key, string replacement)
    {
        var lines = yaml.Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        var start = lines.FindIndex(l => l.StartsWith(key + ":", StringComparison.Ordinal));
        var replacementLines = replacement.TrimEnd('\n').Split('\n');
        if (start < 0)
        {
            lines.AddRange(replacementLines);
        }
        else
        {
            var end = start + 1;
            while (end < lines.Count && (lines[end].Length == 0 || lines[end][0] is ' ' or '\t' or '-' or '#'))
            {
                end++;
            }

            lines.RemoveRange(start, end - start);
            lines.InsertRange(start, replacementLines);
        }

        return string.Join('\n', lines) + "\n";
    }

    private static string Generate(string configsYaml, IReadOnlyList<Config> configs, string title, string? pipelineName, bool withDefinition)
    {
        var rows = configs.Sum(c => c.Rows);
        var columns = configs.SelectMany(c => c.Columns).Distinct(StringComparer.Ordinal).ToList();
        var isPreference = columns.Contains("chosen") && columns.Contains("rejected");
        var card = new StringBuilder("---\n");
        card.Append(configsYaml);
        card.Append("tags:\n- synthetic\n- distil\n");
        if (isPreference)
        {
            card.Append("- dpo\n- preference\n");
        }

        card.Append("size_categories:\n- ").Append(HubSizeCategory.For(rows)).Append('\n');
        card.Append("---\n\n");
        card.Append("# ").Append(title).Append("\n\n");
        card.Append(pipelineName is null ? "Generated with Distil" : $"Generated with the Distil pipeline `{pipelineName}`");
        card.Append(withDefinition ? " (definition in `pipeline.json`)." : ".");
        card.Append("\n\n");
        foreach (var config in configs)
        {
            card.Append(configs.Count > 1 ? $"- `{config.Name}`: " : "").Append(CultureInfo.InvariantCulture, $"{config.Rows:N0} rows; columns: ")
                .Append(string.Join(", ", config.Columns.Select(c => $"`{c}`"))).Append('\n');
        }

        return card.ToString();
    }

    [GeneratedRegex(@"\A---[ \t]*\n(?<yaml>(?:.*\n)*?)---[ \t]*(?:\n|\z)")]
    private static partial Regex FrontMatter();
}

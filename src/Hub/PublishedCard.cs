using System.Globalization;
using System.Text;

namespace Distil.Hub;

/// <summary>
/// The card (README.md) of the published repository. An existing card keeps everything but its <c>configs</c>,
/// which are set so that the dataset viewer finds the Parquet under <c>data/</c>; without a card a minimal one is written.
/// </summary>
internal static class PublishedCard
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
        var card = existing is null ? Generate(configs, title, pipelineName, withDefinition) : DatasetCard.Parse(existing);
        card.FrontMatter.Configs = configs.Select(c => c.Files).ToList();
        return card.Render();
    }

    private static DatasetCard Generate(IReadOnlyList<Config> configs, string title, string? pipelineName, bool withDefinition)
    {
        var columns = configs.SelectMany(c => c.Columns).Distinct(StringComparer.Ordinal).ToList();
        var isPreference = columns.Contains("chosen") && columns.Contains("rejected");
        var card = new DatasetCard();
        card.FrontMatter.Configs = configs.Select(c => c.Files).ToList();
        card.FrontMatter.Tags = isPreference ? ["synthetic", "distil", "dpo", "preference"] : ["synthetic", "distil"];
        card.FrontMatter.SizeCategories = [HubSizeCategory.For(configs.Sum(c => c.Rows))];

        var body = new StringBuilder("\n# ").Append(title).Append("\n\n");
        body.Append(pipelineName is null ? "Generated with Distil" : $"Generated with the Distil pipeline `{pipelineName}`");
        body.Append(withDefinition ? " (definition in `pipeline.json`)." : ".");
        body.Append("\n\n");
        foreach (var config in configs)
        {
            body.Append(configs.Count > 1 ? $"- `{config.Name}`: " : "").Append(CultureInfo.InvariantCulture, $"{config.Rows:N0} rows; columns: ")
                .Append(string.Join(", ", config.Columns.Select(c => $"`{c}`"))).Append('\n');
        }

        card.Body = body.ToString();
        return card;
    }
}

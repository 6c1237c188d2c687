using System.Globalization;
using System.Text;
using Distil.Hub;

namespace Distil.Judge;

/// <summary>
/// What a generated dataset's card says: its front matter (<c>configs</c> → <c>data_files</c>, tags, size category)
/// and a readable summary of how the data was made: counts, rating histogram, models, tokens, time and the pipeline
/// definition itself. <see cref="ToCard"/> gives it as the Hub's <see cref="DatasetCard"/>.
/// </summary>
public sealed class DatasetSummary
{
    public required string PrettyName { get; init; }

    /// <summary>Parquet files relative to the card's folder; the Hub helper rewrites these when publishing.</summary>
    public required IReadOnlyList<string> DataFiles { get; init; }

    /// <summary>
    /// Several configurations and splits (format_outputs); null: one <c>default</c> configuration whose
    /// <c>train</c> split is <see cref="DataFiles"/>.
    /// </summary>
    public IReadOnlyList<ConfigFiles>? Configs { get; init; }

    /// <summary>With <see cref="Configs"/>, when the run wrote them: each configuration's columns and rows per split,
    /// which the card gives a section each; null (a card recounted from files) keeps the short list.</summary>
    public IReadOnlyList<ConfigContents>? ConfigContents { get; init; }

    public long Rows { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = ["dpo", "synthetic", "distil"];

    /// <summary>Count per rating value of every rating in the dataset (key: the rating, e.g. 4 or 3.5).</summary>
    public IReadOnlyDictionary<double, long> RatingHistogram { get; init; } = new Dictionary<double, long>();

    /// <summary>How often each model's response was chosen and rejected.</summary>
    public IReadOnlyDictionary<string, (long Chosen, long Rejected)> ModelWins { get; init; } = new Dictionary<string, (long, long)>();

    public IReadOnlyList<string> JudgeModels { get; init; } = [];

    public long InputTokens { get; init; }

    public long OutputTokens { get; init; }

    public TimeSpan Elapsed { get; init; }

    /// <summary>Length against preference over the pairs with token counts; no section when none had counts.</summary>
    public LengthBias? LengthBias { get; init; }

    public string? PipelineDefinition { get; init; }

    /// <summary>
    /// Rows the pipeline removed or marked on purpose, by reason (near-duplicates, contaminated…), as lines of the
    /// summary; a reason is listed when a step of that kind ran, even at zero.
    /// </summary>
    public IReadOnlyList<(string Label, long Count)> Filtering { get; init; } = [];

    /// <summary>How often judges agreed, as lines of the summary: e.g. a pairwise judge's position-consistent rows
    /// out of the rows it judged (in both orders).</summary>
    public IReadOnlyList<(string Label, long Agreeing, long Total)> Agreement { get; init; } = [];

    /// <summary>Each model of the run and the SHA-256 of what determines its outputs (weights, tokenizer, template, endpoint).</summary>
    public IReadOnlyList<(string Name, string Sha256, string Description)> ModelIdentities { get; init; } = [];

    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>What each step's model calls cost (steps whose model has a price), over every row the run answered.</summary>
    public IReadOnlyList<(string Step, string Model, long InputTokens, long OutputTokens, decimal Usd)> Spend { get; init; } = [];

    public DatasetCard ToCard()
    {
        var card = new DatasetCard();
        card.FrontMatter.PrettyName = PrettyName;
        card.FrontMatter.SizeCategories = [HubSizeCategory.For(Rows)];
        card.FrontMatter.TaskCategories = ["text-generation"];
        card.FrontMatter.Tags = Tags;
        card.FrontMatter.Configs = Configs is { Count: > 0 } configs ? configs : [new ConfigFiles(HubDataFiles.DefaultConfigName, [new ConfigSplit("train", DataFiles)])];
        card.Body = Body();
        return card;
    }

    private string Body()
    {
        var md = new StringBuilder();
        md.Append('\n')
          .Append("# ").Append(PrettyName).Append("\n\n")
          .Append("A synthetic preference dataset made with Distil: responses from several models, ")
          .Append("rated by an LLM judge with an UltraFeedback rubric, paired into chosen/rejected examples in the column ")
          .Append("layout of TRL's DPO trainer (`prompt`, `chosen`, `rejected`).\n\n")
          .Append(ConfigsSummary())
          .Append(LoadExample())
          .Append("## Summary\n\n")
          .Append("| | |\n|---|---|\n")
          .Append("| rows | ").Append(Rows.ToString("N0", CultureInfo.InvariantCulture)).Append(" |\n");
        foreach (var (label, count) in Filtering)
        {
            md.Append("| ").Append(label).Append(" | ").Append(count.ToString("N0", CultureInfo.InvariantCulture)).Append(" |\n");
        }

        foreach (var (label, agreeing, total) in Agreement)
        {
            md.Append("| ").Append(label).Append(" | ").Append(agreeing.ToString("N0", CultureInfo.InvariantCulture)).Append(" / ")
              .Append(total.ToString("N0", CultureInfo.InvariantCulture))
              .Append(total == 0 ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" ({100.0 * agreeing / total:0.0}%)")).Append(" |\n");
        }

        md
          .Append("| judge | ").Append(JudgeModels.Count == 0 ? "–" : string.Join(", ", JudgeModels.Select(m => $"`{m}`"))).Append(" |\n")
          .Append("| input tokens | ").Append(InputTokens.ToString("N0", CultureInfo.InvariantCulture)).Append(" |\n")
          .Append("| output tokens | ").Append(OutputTokens.ToString("N0", CultureInfo.InvariantCulture)).Append(" |\n")
          .Append("| time | ").Append(Elapsed.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture)).Append(" |\n")
          .Append("| created | ").Append(CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)).Append(" |\n\n");

        if (RatingHistogram.Count > 0)
        {
            md.Append("## Ratings\n\nEvery rating the judge gave to the responses kept in the dataset.\n\n| rating | count |\n|---|---|\n");
            foreach (var (rating, count) in RatingHistogram.OrderBy(p => p.Key))
            {
                md.Append("| ").Append(rating.ToString("0.##", CultureInfo.InvariantCulture)).Append(" | ").Append(count).Append(" |\n");
            }

            md.Append('\n');
        }

        if (ModelWins.Count > 0)
        {
            md.Append("## Models\n\n| model | chosen | rejected |\n|---|---|---|\n");
            foreach (var (model, (chosen, rejected)) in ModelWins.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                md.Append("| `").Append(model).Append("` | ").Append(chosen).Append(" | ").Append(rejected).Append(" |\n");
            }

            md.Append('\n');
        }

        if (LengthBias is { Pairs: > 0 } bias)
        {
            md.Append("## Length bias\n\nOutput tokens of the chosen and rejected responses, as the generating models reported them. ")
              .Append("The correlation is Pearson's r between rating and token count over both responses of every pair (")
              .Append(bias.Responses.ToString("N0", CultureInfo.InvariantCulture)).Append(" responses); a strongly positive r suggests the judge rewards length.\n\n")
              .Append("| | |\n|---|---|\n")
              .Append("| pairs with token counts | ").Append(bias.Pairs.ToString("N0", CultureInfo.InvariantCulture)).Append(" |\n")
              .Append("| chosen longer | ").Append(Share(bias.ChosenLonger, bias.Pairs)).Append(" |\n")
              .Append("| same length | ").Append(Share(bias.SameLength, bias.Pairs)).Append(" |\n")
              .Append("| rating–length correlation (r) | ").Append(bias.Correlation is { } r ? r.ToString("0.000", CultureInfo.InvariantCulture) : "– (no spread)").Append(" |\n\n");
        }

        if (Spend.Count > 0)
        {
            var total = Spend.Sum(s => s.Usd);
            md.Append("## Cost\n\nWhat the model calls cost at the prices in the pipeline definition, over every row answered: ")
              .Append("rows dropped later (ties, filters, errors) included.\n\n| step | model | input tokens | output tokens | USD |\n|---|---|---|---|---|\n");
            foreach (var (step, model, input, output, usd) in Spend)
            {
                md.Append("| ").Append(step).Append(" | `").Append(model).Append("` | ").Append(input.ToString("N0", CultureInfo.InvariantCulture))
                  .Append(" | ").Append(output.ToString("N0", CultureInfo.InvariantCulture)).Append(" | ").Append(Usd(usd)).Append(" |\n");
            }

            md.Append("| total | | | | ").Append(Usd(total)).Append(" |\n\n")
              .Append("Per kept pair: ").Append(Rows > 0 ? Usd(total / Rows) : "–").Append(" USD.\n\n");
        }

        if (ModelIdentities.Count > 0)
        {
            md.Append("## Model identities\n\nThe digest of what determines each model's outputs (weights, ONNX graph, config, tokenizer, chat template; endpoint and model name for served models).\n\n| model | sha256 | covers |\n|---|---|---|\n");
            foreach (var (name, sha, description) in ModelIdentities)
            {
                md.Append("| `").Append(name).Append("` | `").Append(sha).Append("` | ").Append(description).Append(" |\n");
            }

            md.Append('\n');
        }

        if (PipelineDefinition is not null)
        {
            md.Append("## Pipeline\n\nThe Distil pipeline definition that produced this dataset:\n\n```jsonc\n")
              .Append(PipelineDefinition.TrimEnd()).Append("\n```\n");
        }

        return md.ToString();
    }

    /// <summary>With several configurations: which trainer each is for and its splits.</summary>
    private string ConfigsSummary()
    {
        if (Configs is not { Count: > 0 } configs)
        {
            return "";
        }

        var text = new StringBuilder("The same pairs in one configuration per trainer format (`rows` above counts pairs; `kto` has two rows per pair):\n\n");
        foreach (var config in configs)
        {
            text.Append("- `").Append(config.Name).Append("`: ").Append(string.Join(", ", config.Splits.Select(s => $"`{s.Split}`"))).Append('\n');
        }

        if (configs.Any(c => c.Splits.Count > 1))
        {
            text.Append("\nThe splits are grouped by `prompt_id`: no prompt is in more than one split.\n");
        }

        foreach (var contents in ConfigContents ?? [])
        {
            text.Append("\n### Configuration `").Append(TrainerRows.NameOf(contents.Config)).Append("`\n\n")
                .Append("- trainer: ").Append(TrainerRows.TrainerOf(contents.Config)).Append('\n')
                .Append("- columns: ").Append(string.Join(", ", contents.Columns.Select(c => $"`{c}`"))).Append('\n')
                .Append("- rows: ").Append(string.Join(", ", contents.Splits.Select(s => $"`{s.Split}` {s.Rows.ToString(CultureInfo.InvariantCulture)}"))).Append('\n');
        }

        return text.Append('\n').ToString();
    }

    /// <summary>How to load the data: each configuration by name, or the one Parquet glob.</summary>
    private string LoadExample()
    {
        var python = new StringBuilder("```python\nfrom datasets import load_dataset\n");
        if (Configs is { Count: > 0 } configs)
        {
            python.Append("# from the Hub: load_dataset(\"<namespace>/<name>\", \"").Append(configs[0].Name).Append("\")\n");
            foreach (var config in configs)
            {
                python.Append(config.Name).Append(" = load_dataset(\"parquet\", data_files={")
                    .Append(string.Join(", ", config.Splits.Select(s => $"{PythonString(s.Split)}: {PythonString(s.Paths[0] + ".parquet")}")))
                    .Append("})\n");
            }
        }
        else
        {
            python.Append("ds = load_dataset(\"parquet\", data_files=").Append(PythonString(DataFiles.Count > 0 ? DataFiles[0] : "*.parquet")).Append(")\n");
        }

        return python.Append("```\n\n").ToString();
    }

    /// <summary>Dollars to the micro-dollar: a per-pair cost is often a fraction of a cent.</summary>
    private static string Usd(decimal usd) => usd.ToString("0.######", CultureInfo.InvariantCulture);

    private static string Share(long part, long whole) =>
        ((double)part / whole).ToString("0.0%", CultureInfo.InvariantCulture) + " (" + part.ToString("N0", CultureInfo.InvariantCulture) + ")";

    private static string PythonString(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

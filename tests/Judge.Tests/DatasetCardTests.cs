using Distil.Judge;

namespace Distil.Judge.Tests;

public class DatasetCardTests
{
    private static DatasetCard Card(long rows = 1234) => new()
    {
        PrettyName = "ultrafeedback-dpo",
        DataFiles = ["data.parquet"],
        Rows = rows,
        RatingHistogram = new Dictionary<double, long> { [5] = 10, [1] = 3, [3] = 7 },
        ModelWins = new Dictionary<string, (long, long)> { ["tiny-a"] = (8, 2), ["tiny-b"] = (2, 8) },
        JudgeModels = ["tiny-judge"],
        InputTokens = 4567,
        OutputTokens = 890,
        Elapsed = TimeSpan.FromSeconds(75),
        PipelineDefinition = "{ \"name\": \"ultrafeedback-dpo\" }",
    };

    [Fact]
    public void Front_matter_declares_configs_tags_and_size()
    {
        var text = Card().Render();
        Assert.StartsWith("---\n", text);
        var frontMatter = text[4..text.IndexOf("\n---\n", 4, StringComparison.Ordinal)];

        Assert.Equal(
            """
            pretty_name: ultrafeedback-dpo
            size_categories:
            - 1K<n<10K
            task_categories:
            - text-generation
            tags:
            - dpo
            - synthetic
            - distil
            configs:
            - config_name: default
              data_files:
              - split: train
                path:
                - data.parquet
            """.ReplaceLineEndings("\n"),
            frontMatter);
    }


    [Fact]
    public void Body_reports_counts_histogram_models_tokens_time_and_definition()
    {
        var text = Card().Render();

        Assert.Contains("| rows | 1,234 |", text);
        Assert.Contains("| input tokens | 4,567 |", text);
        Assert.Contains("| output tokens | 890 |", text);
        Assert.Contains("| time | 00:01:15 |", text);
        Assert.Contains("`tiny-judge`", text);
        Assert.Contains("| 1 | 3 |\n| 3 | 7 |\n| 5 | 10 |", text);
        Assert.Contains("| `tiny-a` | 8 | 2 |", text);
        Assert.Contains("{ \"name\": \"ultrafeedback-dpo\" }", text);
    }

    [Fact]
    public void Names_that_yaml_would_misread_are_quoted()
    {
        var text = new DatasetCard { PrettyName = "run: #1 \"best\"", DataFiles = ["data/*.parquet"] }.Render();
        Assert.Contains("pretty_name: \"run: #1 \\\"best\\\"\"\n", text);
        Assert.Contains("    - data/*.parquet\n", text);
    }
}

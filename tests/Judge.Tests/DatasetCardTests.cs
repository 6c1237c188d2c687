using Distil.Judge;

namespace Distil.Judge.Tests;

public class DatasetCardTests
{
    private static DatasetSummary Card(long rows = 1234) => new()
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
        var text = Card().ToCard().Render();
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
                path: data.parquet
            """.ReplaceLineEndings("\n"),
            frontMatter);
    }


    [Fact]
    public void Body_reports_counts_histogram_models_tokens_time_and_definition()
    {
        var text = Card().ToCard().Render();

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
        var text = new DatasetSummary { PrettyName = "run: #1 \"best\"", DataFiles = ["data/*.parquet"] }.ToCard().Render();
        Assert.Contains("pretty_name: \"run: #1 \\\"best\\\"\"\n", text);
        Assert.Contains("    path: data/*.parquet\n", text);
    }

    [Fact]
    public void Length_bias_counts_longer_chosen_and_correlates_rating_with_length()
    {
        var bias = new LengthBias();
        bias.AddPair(5, 100, 1, 20);
        bias.AddPair(4, 30, 2, 60);
        bias.AddPair(3, 50, 2, 50);

        // Pearson r of the six (rating, tokens) points (5,100) (1,20) (4,30) (2,60) (3,50) (2,50), as Python's
        // statistics.correlation gives it.
        const double expected = 0.6419370652752362;
        Assert.Equal((3L, 1L, 1L, 6L), (bias.Pairs, bias.ChosenLonger, bias.SameLength, bias.Responses));
        Assert.Equal(expected, bias.Correlation!.Value, 12);

        var text = new DatasetSummary { PrettyName = "p", DataFiles = ["data.parquet"], LengthBias = bias }.ToCard().Render();
        Assert.Contains("## Length bias", text);
        Assert.Contains("| pairs with token counts | 3 |", text);
        Assert.Contains("| chosen longer | 33.3% (1) |", text);
        Assert.Contains("| rating–length correlation (r) | 0.642 |", text);
    }

    [Fact]
    public void Length_bias_without_spread_has_no_correlation_and_no_pairs_no_section()
    {
        var flat = new LengthBias();
        flat.AddPair(4, 10, 4, 10);
        Assert.Null(flat.Correlation);
        Assert.Contains("| rating–length correlation (r) | – (no spread) |", new DatasetSummary { PrettyName = "p", DataFiles = ["d"], LengthBias = flat }.ToCard().Render());
        Assert.DoesNotContain("Length bias", new DatasetSummary { PrettyName = "p", DataFiles = ["d"], LengthBias = new LengthBias() }.ToCard().Render());
    }

    [Theory]
    [InlineData(10, 20, 2.0)]
    [InlineData(30, 10, 3.0)]
    [InlineData(0, 0, 1.0)]
    [InlineData(0, 5, double.PositiveInfinity)]
    public void Length_ratio_is_longer_over_shorter(long a, long b, double ratio) => Assert.Equal(ratio, LengthBias.Ratio(a, b));
}

namespace Distil.Hub.Tests;

public sealed class DatasetCards
{
    private static readonly PublishedCard.Config[] OneConfig = [new("default", "data/train-*", 1234, ["prompt", "chosen", "rejected"])];

    [Fact]
    public void An_existing_cards_configs_are_replaced_and_everything_else_kept()
    {
        var card = PublishedCard.Render(TestDatasets.DefaultCard, OneConfig, "alice/x", "p");

        Assert.Equal(
            """
            ---
            license: apache-2.0
            configs:
            - config_name: default
              data_files:
              - split: train
                path: data/train-*
            tags:
            - synthetic
            size_categories:
            - n<1K
            ---

            # UltraFeedback DPO

            Pairs rated by an LLM judge.

            """,
            card);
    }

    [Fact]
    public void A_card_without_configs_gets_them_appended_to_its_front_matter()
    {
        var card = PublishedCard.Render("---\nlicense: mit\n---\n# Title\n", OneConfig, "alice/x", null);

        Assert.Equal("---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n# Title\n", card);
    }

    [Fact]
    public void A_card_without_front_matter_gets_one()
    {
        var card = PublishedCard.Render("# Just text\n", OneConfig, "alice/x", null);

        Assert.StartsWith("---\nconfigs:\n- config_name: default\n", card);
        Assert.EndsWith("---\n\n# Just text\n", card);
    }

    [Fact]
    public void Without_a_card_a_minimal_one_is_generated()
    {
        var card = PublishedCard.Render(null, OneConfig, "alice/x", "ultrafeedback-dpo", withDefinition: true);

        Assert.StartsWith("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n", card);
        Assert.Contains("tags:\n- synthetic\n- distil\n- dpo\n- preference\n", card);
        Assert.Contains("size_categories:\n- 1K<n<10K\n---\n", card);
        Assert.Contains("# alice/x", card);
        Assert.Contains("Generated with the Distil pipeline `ultrafeedback-dpo` (definition in `pipeline.json`).", card);
        Assert.Contains("Generated with the Distil pipeline `p`.", PublishedCard.Render(null, OneConfig, "alice/x", "p"));
        Assert.Contains("1,234 rows; columns: `prompt`, `chosen`, `rejected`", card);
    }

    [Theory]
    [InlineData(0, "n<1K")]
    [InlineData(999, "n<1K")]
    [InlineData(1000, "1K<n<10K")]
    [InlineData(250_000, "100K<n<1M")]
    [InlineData(1_000_000, "1M<n<10M")]
    [InlineData(3_000_000, "1M<n<10M")]
    [InlineData(2_000_000_000, "1B<n<10B")]
    public void Size_categories_follow_the_Hub_buckets(long rows, string expected) =>
        Assert.Equal(expected, HubSizeCategory.For(rows));
}

namespace Distil.Hub.Tests;

public sealed class CardFrontMatterTests
{
    private static readonly ConfigFiles[] TwoConfigs =
    [
        new("dpo", [new ConfigSplit("train", ["dpo/train-*"]), new ConfigSplit("test", ["dpo/test-*"])]),
        new("sft", [new ConfigSplit("train", ["sft/train-*", "extra/*.parquet"])]),
    ];

    private static readonly string[] Tags = ["dpo", "needs: quotes", "say \"hi\""];

    [Fact]
    public void A_rendered_card_parses_back_to_the_same_fields_and_text()
    {
        var card = new DatasetCard { Body = "\n# Title\n\nText.\n" };
        card.FrontMatter.PrettyName = "run: #1 \"best\"";
        card.FrontMatter.License = "apache-2.0";
        card.FrontMatter.SizeCategories = [HubSizeCategory.For(12_345)];
        card.FrontMatter.TaskCategories = ["text-generation"];
        card.FrontMatter.Tags = Tags;
        card.FrontMatter.Configs = TwoConfigs;
        var text = card.Render();

        var parsed = DatasetCard.Parse(text);

        Assert.Equal(text, parsed.Render());
        Assert.Equal("run: #1 \"best\"", parsed.FrontMatter.PrettyName);
        Assert.Equal("apache-2.0", parsed.FrontMatter.License);
        Assert.Equal(["10K<n<100K"], parsed.FrontMatter.SizeCategories);
        Assert.Equal(["text-generation"], parsed.FrontMatter.TaskCategories);
        Assert.Equal(Tags, parsed.FrontMatter.Tags);
        Assert.Equal(Flat(TwoConfigs), Flat(parsed.FrontMatter.Configs));
        Assert.Equal(["pretty_name", "license", "size_categories", "task_categories", "tags", "configs"], parsed.FrontMatter.Keys);
        Assert.Equal("\n# Title\n\nText.\n", parsed.Body);
    }

    [Fact]
    public void Setting_configs_on_a_hand_written_card_keeps_every_other_field_to_the_letter()
    {
        const string Yaml = """
            # written by hand
            license: mit
            tags: [synthetic, "two words"]
            configs:
            - config_name: old
              data_files: old.parquet

            dataset_info:
              features:
              - name: prompt
                dtype: string
            pretty_name: 'It''s mine'
            """;
        var text = "---\n" + Yaml.ReplaceLineEndings("\n") + "\n---\nBody\n";
        var card = DatasetCard.Parse(text);
        Assert.Equal([("old", "train", "old.parquet")], Flat(card.FrontMatter.Configs));

        card.FrontMatter.Configs = TwoConfigs;
        var rendered = card.Render();

        Assert.Equal(text.Replace("configs:\n- config_name: old\n  data_files: old.parquet\n\n", RenderedConfigs(), StringComparison.Ordinal), rendered);
        var reparsed = DatasetCard.Parse(rendered);
        Assert.Equal("mit", reparsed.FrontMatter.License);
        Assert.Equal(["synthetic", "two words"], reparsed.FrontMatter.Tags);
        Assert.Equal("It's mine", reparsed.FrontMatter.PrettyName);
        Assert.Equal(Flat(TwoConfigs), Flat(reparsed.FrontMatter.Configs));
        Assert.Equal(["license", "tags", "configs", "dataset_info", "pretty_name"], reparsed.FrontMatter.Keys);
        var features = Assert.IsType<Dictionary<string, object?>>(reparsed.FrontMatter.Value("dataset_info"));
        var feature = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Assert.IsType<List<object?>>(features["features"])));
        Assert.Equal("string", feature["dtype"]);
    }

    [Fact]
    public void Configs_are_read_in_each_form_the_Hub_accepts()
    {
        var card = DatasetCard.Parse("""
            ---
            configs:
            - config_name: en
              data_files:
              - split: train
                path: [en/train-*, "extra/**/*.parquet"]
            - config_name: fr
              default: true
              data_files: fr/*.parquet
            - config_name: de
              data_files:
                test: de/test.parquet
            - data_files:
              - a.parquet
              - b.parquet
            ---
            """.ReplaceLineEndings("\n"));

        Assert.Equal(
            [
                ("en", "train", "en/train-*|extra/**/*.parquet"),
                ("fr", "train", "fr/*.parquet"),
                ("de", "test", "de/test.parquet"),
                ("default", "train", "a.parquet|b.parquet"),
            ],
            Flat(card.FrontMatter.Configs));
    }

    [Theory]
    [InlineData("license: mit\ntags:\n  - a\n - b\n", 5, "indented less")]
    [InlineData("license: mit\ntags: {a: 1}\n", 3, "flow map")]
    [InlineData("pretty_name: \"open\n", 2, "no closing \"")]
    [InlineData("license: mit\nconfigs:\n- config_name: x\n", 3, "'x' has no data_files")]
    [InlineData("license:\n- a\n- b\n", 2, "'license' must be a single value")]
    public void Front_matter_it_cannot_read_is_refused_with_its_line(string yaml, int line, string reason)
    {
        var card = DatasetCard.Parse("---\n" + yaml + "---\n");

        var error = Assert.Throws<FormatException>(() => (card.FrontMatter.License, card.FrontMatter.Tags, card.FrontMatter.PrettyName, card.FrontMatter.Configs));

        Assert.StartsWith($"front matter line {line}:", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public async Task A_card_whose_front_matter_is_not_closed_is_refused_at_publish_naming_the_file()
    {
        using var folder = new TempFolder();
        var run = await TestDatasets.CreateRunFolderAsync(folder.Path, card: "---\nlicense: mit\n# Title\n");

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(run, new PublishOptions { ToDirectory = Path.Combine(folder.Path, "export") }, CancellationToken.None));

        Assert.Contains(Path.Combine("output", "README.md"), error.Message);
        Assert.Contains("line 1: the card's front matter opens with --- but no line closes it", error.Message);
    }

    private static string RenderedConfigs()
    {
        var card = new CardFrontMatter { Configs = TwoConfigs };
        return card.Render();
    }

    private static List<(string Config, string Split, string Paths)> Flat(IEnumerable<ConfigFiles> configs) =>
        configs.SelectMany(c => c.Splits.Select(s => (c.Name, s.Split, string.Join('|', s.Paths)))).ToList();

}

using System.Text.Json;

namespace Distil.Hub.Tests;

/// <summary>Which of a repository's files make up a config's split (HubDataFiles), as the Hub's dataset viewer decides.</summary>
public sealed class HubDataFileSelection
{
    private static HubRepoEntry[] Files(params string[] paths) => paths.Select(p => new HubRepoEntry(p, 1, null)).ToArray();

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static IEnumerable<string> Paths(HubDataLayout layout, string config, string split) => layout.Configs[config][split].Select(f => f.Path);

    [Fact]
    public void Without_card_configs_splits_come_from_folder_and_file_names()
    {
        var layout = HubDataFiles.FromRepository(
            Files("README.md", "data/train-00001-of-00002.parquet", "data/train-00000-of-00002.parquet", "data/validation-00000-of-00001.parquet", "dev/part0.parquet", ".cache/x.parquet"),
            null);

        Assert.Equal("default", layout.DefaultConfig);
        Assert.Equal(["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"], Paths(layout, "default", "train"));
        Assert.Equal(["data/validation-00000-of-00001.parquet", "dev/part0.parquet"], Paths(layout, "default", "validation"));
        Assert.False(layout.Configs["default"].ContainsKey("test"));
    }

    [Fact]
    public void Parquet_files_that_name_no_split_are_all_train()
    {
        var layout = HubDataFiles.FromRepository(Files("b.parquet", "a.parquet", "notes.txt"), null);

        Assert.Equal(["a.parquet", "b.parquet"], Paths(layout, "default", "train"));
    }

    [Fact]
    public void Card_configs_select_by_glob_and_mark_the_default()
    {
        var configs = Json("""
            [ { "config_name": "en", "data_files": [ { "split": "train", "path": ["en/train-*", "extra/**/*.parquet"] } ] },
              { "config_name": "fr", "default": true, "data_files": "fr/*.parquet" },
              { "config_name": "de", "data_files": { "test": "de/test.parquet" } } ]
            """);

        var layout = HubDataFiles.FromRepository(
            Files("en/train-0.parquet", "en/test-0.parquet", "extra/a/b/c.parquet", "fr/x.parquet", "fr/sub/y.parquet", "de/test.parquet", "en/train-0.jsonl"),
            configs);

        Assert.Equal("fr", layout.DefaultConfig);
        Assert.Equal(["en/train-0.parquet", "extra/a/b/c.parquet"], Paths(layout, "en", "train"));
        Assert.Equal(["fr/x.parquet"], Paths(layout, "fr", "train"));
        Assert.Equal(["de/test.parquet"], Paths(layout, "de", "test"));
    }

    [Fact]
    public void A_repository_whose_configs_match_no_parquet_is_empty_and_the_conversion_layout_is_config_split_folders()
    {
        var repository = HubDataFiles.FromRepository(Files("train.jsonl", "test.csv"), Json("""[ { "config_name": "default", "data_files": "*.jsonl" } ]"""));
        var conversion = HubDataFiles.FromConversion(Files("default/train/0000.parquet", "default/partial-test/0000.parquet", "default/train/index.duckdb", "other/train/0000.parquet"));

        Assert.True(repository.IsEmpty);
        Assert.Equal("default", conversion.DefaultConfig);
        Assert.Equal(["default/partial-test/0000.parquet"], Paths(conversion, "default", "test"));
        Assert.Equal(["other/train/0000.parquet"], Paths(conversion, "other", "train"));
    }
}

using System.Text;

namespace Distil.Hub.Tests;

public sealed class PublishingToTheHub
{
    [Fact]
    public async Task Publish_creates_the_repo_and_commits_shards_card_and_pipeline_in_one_commit()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);

        var result = await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Empty(hub.Server.Violations);
        Assert.Single(repo.Commits);
        Assert.False(repo.Private);
        Assert.Equal(["README.md", "data/train-00000-of-00001.parquet", "pipeline.json"], repo.Files.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(run, "output", "dpo.parquet")), repo.Files["data/train-00000-of-00001.parquet"]);
        Assert.Equal(TestDatasets.PipelineJson, Encoding.UTF8.GetString(repo.Files["pipeline.json"]));
        var card = Encoding.UTF8.GetString(repo.Files["README.md"]);
        Assert.Contains("    path: data/train-*\n", card);
        Assert.DoesNotContain("path: dpo.parquet", card);
        Assert.Contains("license: apache-2.0", card);
        Assert.Contains("# UltraFeedback DPO", card);
        Assert.EndsWith("/datasets/alice/dpo-set", result.RepoUrl);
        Assert.NotNull(result.CommitUrl);
        Assert.Equal(repo.Files["data/train-00000-of-00001.parquet"].LongLength, result.LfsBytesUploaded);
    }

    [Fact]
    public async Task The_parquet_goes_through_LFS_and_small_text_files_inline()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Single(repo.Objects);
        Assert.Equal(repo.Files["data/train-00000-of-00001.parquet"], repo.Objects.Values.Single());
        var requests = hub.Server.Requests.ToList();
        Assert.Equal(1, requests.Count(r => r.StartsWith("PUT /storage/", StringComparison.Ordinal)));
        Assert.Equal(1, requests.Count(r => r.StartsWith("POST /lfs/verify/", StringComparison.Ordinal)));
        Assert.Equal("POST /api/datasets/alice/dpo-set/commit/main", requests[^1]);
    }

    [Fact]
    public async Task A_private_repo_is_created_private_and_an_existing_repo_is_reused()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);

        await HubPublisher.PublishAsync(run, hub.Options() with { Private = true }, CancellationToken.None);
        await HubPublisher.PublishAsync(run, hub.Options() with { Private = true, CommitMessage = "second" }, CancellationToken.None);

        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.True(repo.Private);
        Assert.Equal(["Upload dataset with Distil", "second"], repo.Commits);
        Assert.Empty(hub.Server.Violations);
    }

    [Fact]
    public async Task Sources_with_different_schemas_become_separate_configs()
    {
        await using var hub = await TestHub.StartAsync();
        var run = Path.Combine(hub.Folder, "run");
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "dpo.parquet"), 20, 100);
        await TestDatasets.WriteOtherParquetAsync(Path.Combine(run, "prompts.parquet"), 7);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Equal(
            ["README.md", "data/dpo/train-00000-of-00001.parquet", "data/prompts/train-00000-of-00001.parquet"],
            repo.Files.Keys.Order(StringComparer.Ordinal));
        var card = Encoding.UTF8.GetString(repo.Files["README.md"]);
        Assert.Contains("- config_name: dpo\n  default: true\n  data_files:\n  - split: train\n    path: data/dpo/train-*\n", card);
        Assert.Contains("- config_name: prompts\n  data_files:\n  - split: train\n    path: data/prompts/train-*\n", card);
    }

    [Fact]
    public async Task Files_with_one_schema_become_numbered_shards_of_one_config()
    {
        await using var hub = await TestHub.StartAsync();
        var run = Path.Combine(hub.Folder, "run");
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "part-a.parquet"), 20, 100, seed: 1);
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "part-b.parquet"), 20, 100, seed: 2);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(run, "part-a.parquet")), repo.Files["data/train-00000-of-00002.parquet"]);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(run, "part-b.parquet")), repo.Files["data/train-00001-of-00002.parquet"]);
        Assert.Empty(hub.Server.Violations);
    }
}

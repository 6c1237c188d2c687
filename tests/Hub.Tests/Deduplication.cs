namespace Distil.Hub.Tests;

public sealed class Deduplication
{
    [Fact]
    public async Task A_second_publish_uploads_no_LFS_bytes()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder, rows: 200);

        var first = await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);
        var bytesAfterFirst = hub.Server.StorageBytesReceived;
        var second = await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        Assert.True(first.LfsBytesUploaded > 0);
        Assert.Equal(first.LfsBytesUploaded, bytesAfterFirst);
        Assert.Equal(0, second.LfsBytesUploaded);
        Assert.Equal(1, second.LfsFilesSkipped);
        Assert.Equal(bytesAfterFirst, hub.Server.StorageBytesReceived);
        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Equal(2, repo.Commits.Count);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(run, "output", "dpo.parquet")), repo.Files["data/train-00000-of-00001.parquet"]);
        Assert.Empty(hub.Server.Violations);
    }

    [Fact]
    public async Task Identical_shards_are_uploaded_once()
    {
        await using var hub = await TestHub.StartAsync();
        var run = Path.Combine(hub.Folder, "run");
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "a.parquet"), 30, 100, seed: 4);
        File.Copy(Path.Combine(run, "a.parquet"), Path.Combine(run, "b.parquet"));

        var result = await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        Assert.Equal(new FileInfo(Path.Combine(run, "a.parquet")).Length, hub.Server.StorageBytesReceived);
        Assert.Equal(result.LfsBytesUploaded, hub.Server.StorageBytesReceived);
        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Equal(repo.Files["data/train-00000-of-00002.parquet"], repo.Files["data/train-00001-of-00002.parquet"]);
        Assert.Empty(hub.Server.Violations);
    }
}

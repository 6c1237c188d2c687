namespace Distil.Hub.Tests;

public sealed class DirectoryExport
{
    [Fact]
    public async Task To_dir_writes_the_same_files_as_an_upload()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder, rows: 250, rowGroupSize: 1000);
        var options = hub.Options() with { MaxRowsPerRowGroup = 100 };
        var target = Path.Combine(hub.Folder, "export");

        var written = await HubPublisher.PublishAsync(run, options with { ToDirectory = target }, CancellationToken.None);
        await HubPublisher.PublishAsync(run, options, CancellationToken.None);

        var onDisk = Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(target, f).Replace('\\', '/'), File.ReadAllBytes);
        var uploaded = hub.Server.Repo("alice/dpo-set").Files;
        Assert.Equal(uploaded.Keys.Order(StringComparer.Ordinal), onDisk.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, bytes) in uploaded)
        {
            Assert.Equal(bytes, onDisk[path]);
        }

        Assert.Equal(["README.md", "data/train-00000-of-00001.parquet", "pipeline.json"], written.Files.Select(f => f.PathInRepo).Order(StringComparer.Ordinal));
        Assert.All(written.Files, f => Assert.StartsWith(Path.GetFullPath(target), f.LocalPath));
    }

    [Fact]
    public async Task To_dir_needs_no_token_and_no_network()
    {
        using var folder = new TempFolder();
        var run = await TestDatasets.CreateRunFolderAsync(folder.Path, card: null);
        var target = Path.Combine(folder.Path, "export");

        var result = await HubPublisher.PublishAsync(run, new PublishOptions { ToDirectory = target, Endpoint = "http://127.0.0.1:9" }, CancellationToken.None);

        Assert.Equal(3, result.Files.Count);
        var card = await File.ReadAllTextAsync(Path.Combine(target, "README.md"));
        Assert.Contains("path: data/train-*", card);
        Assert.Contains("# ultrafeedback-dpo", card);
        Assert.Equal(TestDatasets.PipelineJson, await File.ReadAllTextAsync(Path.Combine(target, "pipeline.json")));
    }

    [Fact]
    public async Task An_earlier_export_is_replaced_without_stale_shards()
    {
        using var folder = new TempFolder();
        var run = Path.Combine(folder.Path, "run");
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "a.parquet"), 10, 10, seed: 1);
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "b.parquet"), 10, 10, seed: 2);
        var target = Path.Combine(folder.Path, "export");
        await HubPublisher.PublishAsync(run, new PublishOptions { ToDirectory = target }, CancellationToken.None);
        File.Delete(Path.Combine(run, "b.parquet"));

        await HubPublisher.PublishAsync(run, new PublishOptions { ToDirectory = target }, CancellationToken.None);

        Assert.Equal(["train-00000-of-00001.parquet"], Directory.EnumerateFiles(Path.Combine(target, "data")).Select(Path.GetFileName));
        Assert.Equal(File.ReadAllBytes(Path.Combine(run, "a.parquet")), File.ReadAllBytes(Path.Combine(target, "data", "train-00000-of-00001.parquet")));
    }

    [Fact]
    public async Task A_folder_with_other_files_is_refused_and_left_alone()
    {
        using var folder = new TempFolder();
        var run = await TestDatasets.CreateRunFolderAsync(folder.Path);
        var target = Path.Combine(folder.Path, "export");
        Directory.CreateDirectory(target);
        await File.WriteAllTextAsync(Path.Combine(target, "keep.txt"), "mine");

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(run, new PublishOptions { ToDirectory = target }, CancellationToken.None));

        Assert.Contains(target, error.Message);
        Assert.Contains("holds other files than an earlier export (keep.txt)", error.Message);
        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(target).Select(Path.GetFileName));
    }
}

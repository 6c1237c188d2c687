namespace Distil.Hub.Tests;

public sealed class UploadRetries
{
    [Fact]
    public async Task A_503_on_the_first_part_upload_is_retried_and_the_commit_is_complete()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.MultipartThreshold = 32 * 1024;
        hub.Server.ChunkSize = 16 * 1024;
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder, rows: 600);
        hub.Server.FailNext(r => r.Method == "PUT" && r.Path.Value!.EndsWith("/part/1", StringComparison.Ordinal), FaultKind.ServiceUnavailable);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Empty(hub.Server.Violations);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(run, "output", "dpo.parquet")), repo.Files["data/train-00000-of-00001.parquet"]);
        Assert.Equal(2, hub.Server.Requests.Count(r => r.StartsWith("PUT /storage/", StringComparison.Ordinal) && r.EndsWith("/part/1", StringComparison.Ordinal)));
        Assert.Contains(hub.Log.Lines, l => l.Contains("503", StringComparison.Ordinal) && l.Contains("part 1/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_connection_dropped_mid_body_is_retried()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder, rows: 300);
        hub.Server.FailNext(r => r.Method == "PUT", FaultKind.DropConnectionMidBody);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Empty(hub.Server.Violations);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(run, "output", "dpo.parquet")), repo.Files["data/train-00000-of-00001.parquet"]);
        Assert.Equal(2, hub.Server.Requests.Count(r => r.StartsWith("PUT /storage/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_429_waits_and_is_retried()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);
        hub.Server.FailNext(r => r.Path.Value!.Contains("/preupload/", StringComparison.Ordinal), FaultKind.TooManyRequests);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        Assert.Equal(2, hub.Server.Requests.Count(r => r.Contains("/preupload/", StringComparison.Ordinal)));
        Assert.Contains(hub.Log.Lines, l => l.Contains("429", StringComparison.Ordinal) && l.Contains("retrying in 1.0 s", StringComparison.Ordinal));
        Assert.Single(hub.Server.Repo("alice/dpo-set").Commits);
    }

    [Fact]
    public async Task A_failure_before_the_commit_leaves_the_repo_unchanged_and_a_rerun_uploads_only_what_is_missing()
    {
        await using var hub = await TestHub.StartAsync();
        var run = Path.Combine(hub.Folder, "run");
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "a.parquet"), 40, 100, seed: 1);
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "b.parquet"), 60, 100, seed: 2);
        var bSize = new FileInfo(Path.Combine(run, "b.parquet")).Length;
        var options = hub.Options() with { UploadConcurrency = 1 };
        // Every attempt at the second shard's upload fails: 4 attempts are allowed.
        hub.Server.FailNext(r => r.Method == "PUT" && r.ContentLength == bSize, FaultKind.ServiceUnavailable, times: 4);

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(run, options, CancellationToken.None));

        Assert.Contains("upload of data/train-00001-of-00002.parquet failed after 4 attempts", error.Message);
        var repo = hub.Server.Repo("alice/dpo-set");
        Assert.Empty(repo.Files);
        Assert.Empty(repo.Commits);
        Assert.Single(repo.Objects);

        var result = await HubPublisher.PublishAsync(run, options, CancellationToken.None);

        Assert.Equal(bSize, result.LfsBytesUploaded);
        Assert.Equal(1, result.LfsFilesSkipped);
        Assert.Single(repo.Commits);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(run, "b.parquet")), repo.Files["data/train-00001-of-00002.parquet"]);
        Assert.Empty(hub.Server.Violations);
    }

    [Fact]
    public async Task A_server_that_keeps_failing_gives_up_with_the_status_and_operation()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);
        hub.Server.FailNext(r => r.Path.Value!.Contains("/commit/", StringComparison.Ordinal), FaultKind.ServiceUnavailable, times: 4);

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None));

        Assert.Contains("commit failed after 4 attempts", error.Message);
        Assert.Contains("503", error.Message);
        Assert.Empty(hub.Server.Repo("alice/dpo-set").Files);
    }
}

namespace Distil.Hub.Tests;

public sealed class MultipartUploads
{
    [Fact]
    public async Task A_large_file_goes_up_in_parts_and_is_assembled_byte_for_byte()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.MultipartThreshold = 32 * 1024;
        hub.Server.ChunkSize = 16 * 1024;
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder, rows: 800);
        var source = await File.ReadAllBytesAsync(Path.Combine(run, "output", "dpo.parquet"));
        var parts = (source.Length + (16 * 1024) - 1) / (16 * 1024);
        Assert.True(parts >= 3, $"the test file should need several parts, it has {source.Length} bytes");

        var result = await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        Assert.Empty(hub.Server.Violations);
        Assert.Equal(1, hub.Server.MultipartCompletions);
        Assert.Equal(parts, hub.Server.Requests.Count(r => r.StartsWith("PUT /storage/", StringComparison.Ordinal) && r.Contains("/part/", StringComparison.Ordinal)));
        Assert.Equal(source, hub.Server.Repo("alice/dpo-set").Files["data/train-00000-of-00001.parquet"]);
        Assert.Equal(source.Length, result.LfsBytesUploaded);
    }

    [Fact]
    public async Task A_part_dropped_mid_body_is_sent_again_without_resending_the_other_parts()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.MultipartThreshold = 32 * 1024;
        hub.Server.ChunkSize = 16 * 1024;
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder, rows: 800);
        var source = await File.ReadAllBytesAsync(Path.Combine(run, "output", "dpo.parquet"));
        var parts = (source.Length + (16 * 1024) - 1) / (16 * 1024);
        hub.Server.FailNext(r => r.Path.Value!.EndsWith("/part/2", StringComparison.Ordinal), FaultKind.DropConnectionMidBody);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        Assert.Empty(hub.Server.Violations);
        Assert.Equal(parts + 1, hub.Server.Requests.Count(r => r.Contains("/part/", StringComparison.Ordinal)));
        Assert.Equal(source, hub.Server.Repo("alice/dpo-set").Files["data/train-00000-of-00001.parquet"]);
    }
}

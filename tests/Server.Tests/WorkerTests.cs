using System.Text.Json;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>Worker processes sharing one Postgres take shards of the same run, and survive each other's death.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WorkerTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Two_worker_processes_share_the_shards_of_a_run()
    {
        var database = await postgres.CreateDatabaseAsync("share");
        var pipeline = _workspace.Pipeline("share", rows: 160, delayMs: 300, batchSize: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 20);
        await using var a = await WorkerProcess.StartAsync(_workspace, database, "worker-a");
        await using var b = await WorkerProcess.StartAsync(_workspace, database, "worker-b");

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(120));

        var workers = Shards(run).Select(s => s.GetProperty("worker").GetString()).ToList();
        Assert.Contains(WorkerProcess.NameOf(a), workers);
        Assert.Contains(WorkerProcess.NameOf(b), workers);
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
    }

    [Fact]
    public async Task Worker_killed_mid_shard_loses_and_duplicates_no_rows()
    {
        var database = await postgres.CreateDatabaseAsync("kill");
        // Six shards of 20 rows, each about 2.4 s: four batches of 5 rows, 600 ms apiece.
        var pipeline = _workspace.Pipeline("kill", rows: 120, delayMs: 600, batchSize: 5);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 20);
        await using var victim = await WorkerProcess.StartAsync(_workspace, database, "victim");
        await using var survivor = await WorkerProcess.StartAsync(_workspace, database, "survivor");

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var victimName = WorkerProcess.NameOf(victim);
        var running = await serve.WaitUntilAsync(id, r => Shards(r).Any(s => IsRunningOn(s, victimName)), TimeSpan.FromSeconds(60), "the victim to take a shard");
        var taken = Shards(running).First(s => IsRunningOn(s, victimName)).GetProperty("index").GetInt32();
        await Task.Delay(TimeSpan.FromSeconds(1)); // well into the shard's 2.4 s
        victim.Kill();

        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(120));
        var shard = Shards(run).Single(s => s.GetProperty("index").GetInt32() == taken);
        Assert.Equal(WorkerProcess.NameOf(survivor), shard.GetProperty("worker").GetString());
        Assert.True(shard.GetProperty("attempts").GetInt32() >= 2, $"shard {taken} should have been taken again: {shard}");
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
    }

    private static IEnumerable<JsonElement> Shards(JsonElement run) => run.GetProperty("shards").EnumerateArray();

    private static bool IsRunningOn(JsonElement shard, string worker) =>
        shard.GetProperty("state").GetString() == "Running" && shard.GetProperty("worker").GetString() == worker;

    public void Dispose() => _workspace.Dispose();
}

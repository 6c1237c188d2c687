using System.Text.Json;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>Worker processes sharing one Postgres take shards of the same run, and survive each other's death.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WorkerTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Two_workers_share_the_shards_and_one_killed_mid_shard_loses_and_duplicates_no_rows()
    {
        var database = await postgres.CreateDatabaseAsync("workers");
        // Eight shards of 20 rows, each about 2 s: four batches of 5 rows, 500 ms apiece.
        var pipeline = _workspace.Pipeline("workers", rows: 160, delayMs: 500, batchSize: 5);
        var starting = (
            Serve: ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 20),
            Victim: WorkerProcess.StartAsync(_workspace, database, "victim"),
            Survivor: WorkerProcess.StartAsync(_workspace, database, "survivor"));
        await using var serve = await starting.Serve;
        await using var victim = await starting.Victim;
        await using var survivor = await starting.Survivor;
        var victimName = WorkerProcess.NameOf(victim);
        var survivorName = WorkerProcess.NameOf(survivor);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        // Kill the victim once it has finished a shard and is into its next one.
        var running = await serve.WaitUntilAsync(
            id,
            r => Shards(r).Any(s => Is(s, "Succeeded", victimName)) && Shards(r).Any(s => Is(s, "Running", victimName)),
            TimeSpan.FromSeconds(90),
            "the victim to finish a shard and start another");
        // Running in the store means the victim has claimed it and is inside it (a shard lasts ~2 s): kill now,
        // rather than after a fixed delay that a slow machine could outlast.
        var taken = Shards(running).First(s => Is(s, "Running", victimName)).GetProperty("index").GetInt32();
        victim.Kill();

        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(120));
        var shards = Shards(run).ToList();
        Assert.Contains(shards, s => Is(s, "Succeeded", victimName));
        Assert.Contains(shards, s => Is(s, "Succeeded", survivorName));
        var retaken = shards.Single(s => s.GetProperty("index").GetInt32() == taken);
        Assert.Equal(survivorName, retaken.GetProperty("worker").GetString());
        Assert.True(retaken.GetProperty("attempts").GetInt32() >= 2, $"shard {taken} was killed mid-way and should have been taken again: {retaken}");
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
    }

    private static IEnumerable<JsonElement> Shards(JsonElement run) => run.GetProperty("shards").EnumerateArray();

    private static bool Is(JsonElement shard, string state, string worker) =>
        shard.GetProperty("state").GetString() == state && shard.GetProperty("worker").GetString() == worker;

    public void Dispose() => _workspace.Dispose();
}

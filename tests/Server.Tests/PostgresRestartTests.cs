using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>The database going away for a moment does not lose a run, nor stall it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresRestartTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Run_completes_when_postgres_restarts_in_the_middle()
    {
        var database = await postgres.CreateDatabaseAsync("restart");
        var pipeline = _workspace.Pipeline("restart", rows: 120, delayMs: 250, batchSize: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 2, shardSize: 20);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        await serve.WaitUntilAsync(id, r => r.GetProperty("run").GetProperty("shards_done").GetInt32() >= 1, TimeSpan.FromSeconds(60), "a first shard");
        await postgres.RestartAsync();

        // A few seconds of work; the rest is room for Hangfire's recovery (a lock row left behind by the
        // restart counts as abandoned after 30 s, see HangfireSetup.LockTimeout).
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(150));
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
    }

    public void Dispose() => _workspace.Dispose();
}

using Distil.Server.Tests.Infrastructure;
using Npgsql;

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

        // A restart that lands in a job's state change leaves its Hangfire lock behind (see the test below):
        // the run waits for that lock to expire (30 s) on top of its own minute of work.
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(150));
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
    }

    /// <summary>
    /// The cause of a 10-minute stall: Postgres restarts while a worker is inside a job's state change, after
    /// the worker committed the job's lock row and before it deleted it. Holding an EXCLUSIVE lock on
    /// hangfire.state makes that moment last until the test restarts Postgres, so the case is reproduced on demand.
    /// </summary>
    [Fact]
    public async Task Run_continues_soon_after_postgres_restarts_during_a_job_state_change()
    {
        var database = await postgres.CreateDatabaseAsync("statelock");
        var pipeline = _workspace.Pipeline("statelock", rows: 60, delayMs: 100, batchSize: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 2, shardSize: 20);
        var id = await serve.SubmitAsync(_workspace, pipeline);
        await serve.WaitUntilAsync(id, r => r.GetProperty("run").GetProperty("shards_done").GetInt32() >= 1, TimeSpan.FromSeconds(60), "a first shard");

        await using (var holder = new NpgsqlConnection(database + ";Pooling=false"))
        {
            await holder.OpenAsync();
            await using var transaction = await holder.BeginTransactionAsync();
            await using (var block = new NpgsqlCommand("LOCK TABLE hangfire.state IN EXCLUSIVE MODE", holder, transaction))
            {
                await block.ExecuteNonQueryAsync();
            }

            await WaitForBlockedStateChangeAsync(database);
            await postgres.RestartAsync();
        }

        Assert.True(await CountAsync(database, "SELECT count(*) FROM hangfire.lock") > 0, "the restart should have left a Hangfire lock row behind");
        var run = await serve.WaitForStateAsync(id, "Succeeded", HangfireLockTimeout + TimeSpan.FromSeconds(60));
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
    }

    public void Dispose() => _workspace.Dispose();

    private static readonly TimeSpan HangfireLockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Evidence that a worker holds a job lock row and waits on hangfire.state: the moment to pull the plug.</summary>
    private static async Task WaitForBlockedStateChangeAsync(string database)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var waiting = await CountAsync(database,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%state%'");
            var locks = await CountAsync(database, "SELECT count(*) FROM hangfire.lock");
            if (waiting > 0 && locks > 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"no Hangfire state change blocked within 60 s ({waiting} waiting, {locks} lock rows)");
            }

            await Task.Delay(100);
        }
    }

    private static async Task<long> CountAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

using System.Text;
using System.Text.Json;
using Distil.Server.Tests.Infrastructure;
using Npgsql;

namespace Distil.Server.Tests;

/// <summary>
/// A run whose shard fails for good: the shards still running stop, the shard files stored so far are dropped, and
/// Hangfire's own job records say Failed for the failing shard and Deleted for the stopped ones, not Succeeded.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FailedRunTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_failing_shard_stops_the_other_shards_and_leaves_no_stored_files_or_succeeded_jobs()
    {
        var database = await postgres.CreateDatabaseAsync("failrun");
        // Three shards of 40 rows, each about 5 s of pacing; record 45 (shard 1) is not JSON, so shard 1 fails as soon
        // as it reads it, while shard 0, taken by the other worker at the same time, is still pacing.
        var pipeline = _workspace.Pipeline("breaks", rows: 120, delayMs: 600, batchSize: 5);
        BreakRecord(Path.Combine(_workspace.Root, "data", "breaks.jsonl"), record: 45);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 2, shardSize: 40);
        var id = await serve.SubmitAsync(_workspace, pipeline);

        var failed = await serve.WaitForStateAsync(id, "Failed", TimeSpan.FromSeconds(90));
        var error = failed.GetProperty("run").GetProperty("error").GetString()!;
        Assert.True(error.Contains("shard 1", StringComparison.Ordinal) && error.Contains("breaks.jsonl", StringComparison.Ordinal), error);

        // Evidence that shard 0 was running when the run failed and was stopped, rather than left to finish.
        var stopped = await serve.WaitUntilAsync(id, r => Shard(r, 0).GetProperty("error").ValueKind == JsonValueKind.String, TimeSpan.FromSeconds(20), "shard 0 to be stopped");
        Assert.Contains("failed in another shard", Shard(stopped, 0).GetProperty("error").GetString(), StringComparison.Ordinal);
        await serve.WaitUntilAsync(id, r => r.GetProperty("shards").EnumerateArray().All(s => s.GetProperty("state").GetString() != "Running"), TimeSpan.FromSeconds(20), "no shard running");

        await using var connection = new NpgsqlConnection(database + ";Pooling=false");
        await connection.OpenAsync();
        var jobs = await WaitForShardJobsToSettleAsync(connection, id, TimeSpan.FromSeconds(30));
        Assert.Equal(["Deleted", "Failed", "Deleted"], jobs);
        await using (var stored = new NpgsqlCommand("SELECT count(*) FROM distil.shard_files WHERE run_id = $1", connection))
        {
            stored.Parameters.Add(new() { Value = id });
            Assert.Equal(0L, (long)(await stored.ExecuteScalarAsync())!);
        }

        Assert.NotEqual("Succeeded", Shard(await serve.GetRunAsync(id), 0).GetProperty("state").GetString());
    }

    private static JsonElement Shard(JsonElement run, int index) => run.GetProperty("shards").EnumerateArray().ElementAt(index);

    private static void BreakRecord(string path, int record)
    {
        var lines = File.ReadAllLines(path);
        lines[record] = "{\"instruction\": \"this record is cut";
        File.WriteAllText(path, string.Join('\n', lines) + "\n", new UTF8Encoding(false));
    }

    /// <summary>Hangfire's state of each shard job of the run, in shard order, once none is queued or processing.</summary>
    private static async Task<string[]> WaitForShardJobsToSettleAsync(NpgsqlConnection connection, Guid run, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var states = new List<(int Shard, string State)>();
            await using (var command = new NpgsqlCommand(
                "SELECT (arguments->>1)::int, statename FROM hangfire.job WHERE invocationdata->>'Method' = 'RunShardAsync' AND arguments->>0 LIKE $1",
                connection))
            {
                command.Parameters.Add(new() { Value = $"%{run}%" });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    states.Add((reader.GetInt32(0), reader.GetString(1)));
                }
            }

            var ordered = states.OrderBy(s => s.Shard).Select(s => s.State).ToArray();
            if (ordered.Length == 3 && ordered.All(s => s is not ("Enqueued" or "Processing" or "Scheduled" or "Awaiting")))
            {
                return ordered;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"shard jobs of run {run} did not settle: {string.Join(", ", states)}");
            }

            await Task.Delay(200);
        }
    }

    public void Dispose() => _workspace.Dispose();
}

using System.Globalization;
using Distil.Server.Tests.Infrastructure;
using Npgsql;

namespace Distil.Server.Tests;

/// <summary>A submitted run is cut into shards, run as Hangfire jobs and merged into one dataset.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ShardedRunTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Submitted_run_merges_into_the_single_process_dataset_row_for_row()
    {
        var database = await postgres.CreateDatabaseAsync("sharded");
        var pipeline = _workspace.Pipeline("sharded", rows: 120);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 2, shardSize: 25);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(90));

        var output = run.GetProperty("run").GetProperty("output").GetString()!;
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(output, "rows.parquet"));
        Assert.Equal(5, run.GetProperty("shards").GetArrayLength());
        Assert.All(run.GetProperty("shards").EnumerateArray(), s => Assert.Equal("Succeeded", s.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task Run_history_and_step_counts_are_kept_in_the_distil_schema()
    {
        var database = await postgres.CreateDatabaseAsync("history");
        var pipeline = _workspace.Pipeline("history", rows: 60);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, shardSize: 20);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(90));

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand("SELECT state, rows_total, shard_count, output FROM distil.runs WHERE id = $1", connection))
        {
            command.Parameters.Add(new() { Value = id });
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal("Succeeded", reader.GetString(0));
            Assert.Equal(60, reader.GetInt64(1));
            Assert.Equal(3, reader.GetInt32(2));
            Assert.StartsWith(_workspace.Outputs, reader.GetString(3));
        }

        await using (var command = new NpgsqlCommand(
            "SELECT step, sum(rows_in), sum(rows_out) FROM distil.shard_steps WHERE run_id = $1 GROUP BY step ORDER BY min(ordinal)", connection))
        {
            command.Parameters.Add(new() { Value = id });
            await using var reader = await command.ExecuteReaderAsync();
            var steps = new List<(string, long, long)>();
            while (await reader.ReadAsync())
            {
                steps.Add((reader.GetString(0), Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture)));
            }

            Assert.Equal(["load", "pace", "keep", "write"], steps.Select(s => s.Item1));
            Assert.Equal(60, steps[0].Item3);
            Assert.Equal(60, steps[^1].Item2);
        }

        // Shard files are dropped once merged: the dataset lives in outputs/, not twice in Postgres.
        await using (var command = new NpgsqlCommand("SELECT count(*) FROM distil.shard_files WHERE run_id = $1", connection))
        {
            command.Parameters.Add(new() { Value = id });
            Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
        }
    }

    [Fact]
    public async Task In_memory_mode_runs_a_submission_to_the_same_dataset()
    {
        var pipeline = _workspace.Pipeline("memory", rows: 70);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 30);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));

        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
        Assert.Equal(3, run.GetProperty("run").GetProperty("shards_done").GetInt32());
    }

    [Fact]
    public async Task Every_sink_output_is_merged_in_shard_order()
    {
        _workspace.Pipeline("two-sinks", rows: 52);
        var pipeline = Path.Combine(_workspace.Root, "pipelines", "two-sinks.json");
        await File.WriteAllTextAsync(pipeline, """
            {
              "name": "two-sinks",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/two-sinks.jsonl" },
                { "name": "science", "type": "filter", "column": "topic", "op": "eq", "value": "science" },
                { "name": "parquet", "type": "write_parquet", "after": ["science"], "path": "rows.parquet" },
                { "name": "jsonl", "type": "write_jsonl", "after": ["science"], "path": "rows.jsonl" }
              ]
            }
            """);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 7);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));

        var output = run.GetProperty("run").GetProperty("output").GetString()!;
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);
        Datasets.AssertSameRows(expected, Path.Combine(output, "rows.parquet"));
        Assert.Equal(18, expected.Count); // rows 0, 3, …, 51: the filter kept a third, across shard borders
        var singleJsonl = await File.ReadAllLinesAsync(Path.Combine(_workspace.Root, "single", "two-sinks", "rows.jsonl"));
        Assert.Equal(singleJsonl, await File.ReadAllLinesAsync(Path.Combine(output, "rows.jsonl")));
    }

    public void Dispose() => _workspace.Dispose();
}

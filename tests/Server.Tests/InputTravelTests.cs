using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Distil.Server.Tests.Infrastructure;
using Npgsql;

namespace Distil.Server.Tests;

/// <summary>
/// Inputs that travel: submitted input files are stored in Postgres by content (chunked, once per content), and a
/// worker on a machine without the file runs shards from that copy.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class InputTravelTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_worker_without_a_copy_of_the_input_completes_shards_from_the_stored_one()
    {
        var database = await postgres.CreateDatabaseAsync("travel");
        var pipeline = _workspace.Pipeline("travel", rows: 60, batchSize: 10);
        var data = Path.Combine(_workspace.Root, "data", "travel.jsonl");
        // Rows padded to about 40 KB each: 2.4 MB of input, so it is stored as several 1 MiB chunks.
        var padded = File.ReadAllLines(data).Select((line, i) => line.TrimEnd('}') + $", \"pad\": \"{new string((char)('a' + (i % 26)), 40_000)}\"}}").ToList();
        File.WriteAllLines(data, padded);
        var digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data)));
        var expected = await Datasets.RunSingleProcessAsync(pipeline, _workspace.Root);

        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 20);
        var first = await serve.SubmitAsync(_workspace, pipeline);
        var second = await serve.SubmitAsync(_workspace, pipeline);

        // This machine no longer has the input at its path; the worker also runs from a folder of its own.
        File.Move(data, data + ".gone");
        var elsewhere = Path.Combine(_workspace.Root, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        await using var worker = await WorkerProcess.StartAsync(_workspace, database, "elsewhere", workingDirectory: elsewhere);

        foreach (var id in new[] { first, second })
        {
            var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(120));
            Assert.All(run.GetProperty("shards").EnumerateArray(), s => Assert.Equal(WorkerProcess.NameOf(worker), s.GetProperty("worker").GetString()));
            Datasets.AssertSameRows(expected, Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "rows.parquet"));
        }

        // The worker read its own copy, named by the content's digest.
        var copy = Path.Combine(_workspace.WorkDirectory("elsewhere"), "inputs", digest + ".jsonl");
        Assert.Equal(digest, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(copy))));

        // Stored once for both runs, in chunks.
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        Assert.Equal(1L, await ScalarAsync(connection, "SELECT count(*) FROM distil.blobs"));
        Assert.Equal(3L, await ScalarAsync(connection, $"SELECT count(*) FROM distil.blob_chunks WHERE digest = '{digest}'"));
        Assert.Equal(2L, await ScalarAsync(connection, $"SELECT count(*) FROM distil.run_inputs WHERE digest = '{digest}' AND path = '{data}'"));
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public void Dispose() => _workspace.Dispose();
}

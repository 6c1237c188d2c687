using System.Globalization;
using System.Text.RegularExpressions;
using Distil.Server.Tests.Infrastructure;
using Npgsql;

namespace Distil.Server.Tests;

/// <summary><c>budget_usd</c> in a submitted definition limits the run as a whole: its shards charge one spend row.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class RunBudgetTests(PostgresServer postgres) : IDisposable
{
    private const int Rows = 80;
    private const int ShardSize = 10;
    private const int MaxNewTokens = 8;
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_budget_no_shard_reaches_alone_stops_the_run_once_its_shards_reach_it_together()
    {
        // $1 per output token: a shard (10 rows, at most 8 tokens each) costs at most $80, the whole run up to $640.
        const decimal Budget = 150;
        var database = await postgres.CreateDatabaseAsync("budget");
        var pipeline = WritePipeline(Budget);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 2, shardSize: ShardSize);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = (await serve.WaitForStateAsync(id, "Cancelled", TimeSpan.FromSeconds(180))).GetProperty("run");
        var error = run.GetProperty("error").GetString()!;
        Assert.StartsWith("budget:", error, StringComparison.Ordinal);

        // Settled: the shards in flight stop, the others never start, nothing is merged.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var later = (await serve.GetRunAsync(id)).GetProperty("run");
        var done = later.GetProperty("shards_done").GetInt32();
        Assert.InRange(done, 0, Rows / ShardSize - 2);
        Assert.False(Directory.Exists(Path.Combine(_workspace.Outputs, "budget", id.ToString("N"))));

        // One row holds the run's spend: at least the budget, and past it by no more than the shards that were running.
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT spent_usd FROM distil.run_spend WHERE run_id = $1", connection);
        command.Parameters.Add(new() { Value = id });
        var spent = (decimal)(await command.ExecuteScalarAsync())!;
        Assert.InRange(spent, Budget, Budget + (2 * ShardSize * MaxNewTokens));
        // The error states the total when the budget was reached; shards still finishing a batch may add to it after.
        Assert.InRange(decimal.Parse(Spent().Match(error).Groups[1].Value, CultureInfo.InvariantCulture), Budget, spent);
    }

    /// <summary>Prompts, one tiny local model priced at $1 per output token (input free), the answers to Parquet.</summary>
    private string WritePipeline(decimal budget)
    {
        var data = Path.Combine(_workspace.Root, "data", "budget.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(data)!);
        File.WriteAllLines(data, Enumerable.Range(0, Rows).Select(i => $$"""{"instruction": "Name colour number {{i}}."}"""));
        var path = Path.Combine(_workspace.Root, "pipelines", "budget.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, $$"""
            {
              "name": "budget",
              "budget_usd": {{budget.ToString(CultureInfo.InvariantCulture)}},
              "models": {
                "tiny": { "type": "local", "path": "../models/tiny", "build": { "preset": "tiny", "seed": 1 }, "chat_template": "llama3", "threads": 1,
                          "price": { "input_per_mtok": 0, "output_per_mtok": 1000000 } }
              },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/budget.jsonl" },
                { "name": "generate", "type": "text_generation", "model": "tiny", "input_batch_size": 5,
                  "generation": { "max_new_tokens": {{MaxNewTokens}}, "temperature": 0.7, "seed": 3 } },
                { "name": "write", "type": "write_parquet", "path": "answers.parquet" }
              ]
            }
            """);
        return path;
    }

    [GeneratedRegex(@"cost \$([0-9.]+)")]
    private static partial Regex Spent();

    public void Dispose() => _workspace.Dispose();
}

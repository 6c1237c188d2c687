using System.Globalization;
using System.Text.RegularExpressions;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary><c>distil runs</c> shows rows done from the shards' stored live counters, not only whole finished shards.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class RunProgressTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Distil_runs_shows_rows_moving_inside_a_shard_that_has_not_finished()
    {
        var database = await postgres.CreateDatabaseAsync("progress");
        // One shard of 60 rows, six batches of 10 at 600 ms each: no shard finishes for about 3.6 s.
        var pipeline = _workspace.Pipeline("progress", rows: 60, delayMs: 600, batchSize: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, shardSize: 60);
        var id = await serve.SubmitAsync(_workspace, pipeline);

        var seen = new List<(string State, int Done)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "runs", "--server", serve.Url);
            Assert.True(exit == 0, output);
            var line = output.Split('\n').Single(l => l.StartsWith(id.ToString(), StringComparison.Ordinal));
            var match = RowsColumn().Match(line);
            Assert.True(match.Success, line);
            var state = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2];
            seen.Add((state, int.Parse(match.Groups["done"].Value, CultureInfo.InvariantCulture)));
            if (state is "Succeeded" or "Failed" or "Cancelled")
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the run did not finish: {string.Join(", ", seen)}");
            await Task.Delay(200);
        }

        Assert.Equal(("Succeeded", 60), seen[^1]);
        // While the only shard was still running, the rows done were seen part-way (not 0, not all 60).
        var partWay = seen.Where(s => s.State == "Running" && s.Done is > 0 and < 60).Select(s => s.Done).ToList();
        Assert.True(partWay.Count > 0, $"rows done seen while running: {string.Join(", ", seen)}");
        // And they only ever grow.
        Assert.Equal(seen.Select(s => s.Done).Order(), seen.Select(s => s.Done));
    }

    [GeneratedRegex(@"\s(?<done>\d+)/60\s")]
    private static partial Regex RowsColumn();

    public void Dispose() => _workspace.Dispose();
}

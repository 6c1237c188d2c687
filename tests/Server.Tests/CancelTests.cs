using System.Text.Json;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary><c>distil cancel</c> (DELETE /api/runs/{id}) stops a run: no more shards, no dataset.</summary>
public sealed class CancelTests : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Cancelled_run_stops_its_shards_and_writes_no_dataset()
    {
        var pipeline = _workspace.Pipeline("cancel", rows: 120, delayMs: 600, batchSize: 5);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 20);
        var id = await serve.SubmitAsync(_workspace, pipeline);
        await serve.WaitUntilAsync(id, r => Shards(r).Any(s => s.GetProperty("state").GetString() == "Running"), TimeSpan.FromSeconds(60), "a running shard");

        var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "cancel", id.ToString(), "--server", serve.Url);
        Assert.True(exit == 0, output);

        // The shard in flight notices within a couple of seconds and gives its place back.
        var stopped = await serve.WaitUntilAsync(id, r => Shards(r).All(s => s.GetProperty("state").GetString() != "Running"), TimeSpan.FromSeconds(20), "the shard to stop");
        var done = stopped.GetProperty("run").GetProperty("shards_done").GetInt32();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var later = await serve.GetRunAsync(id);
        Assert.Equal("Cancelled", later.GetProperty("run").GetProperty("state").GetString());
        Assert.Equal(done, later.GetProperty("run").GetProperty("shards_done").GetInt32());
        Assert.True(done < 6, "the run should not have finished before it was cancelled");
        Assert.False(Directory.Exists(Path.Combine(_workspace.Outputs, "cancel", id.ToString("N"))));

        using var again = await serve.Http.DeleteAsync($"/api/runs/{id}");
        Assert.Equal(System.Net.HttpStatusCode.Conflict, again.StatusCode);
    }

    private static IEnumerable<JsonElement> Shards(JsonElement run) => run.GetProperty("shards").EnumerateArray();

    public void Dispose() => _workspace.Dispose();
}

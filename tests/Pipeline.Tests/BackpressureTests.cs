namespace Distil.Pipeline.Tests;

/// <summary>A slow step holds back the steps before it: the source never reads far ahead of what is processed.</summary>
public sealed class BackpressureTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Source_waits_for_a_slow_step()
    {
        _ws.WritePrompts(50_000);
        var log = new TestSteps.CallLog();
        var definition = _ws.Define("""
            {
              "name": "backpressure",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "slow", "type": "tag", "label": "s", "input_batch_size": 10, "delay_ms": 10 },
                { "name": "out", "type": "write_jsonl" }
              ]
            }
            """, TestSteps.Registry(log));
        using var cts = new CancellationTokenSource();
        var run = _ws.RunAsync(definition, _ws.Options() with { BufferedRows = 100 }, cts.Token);
        await Eventually.WaitUntilAsync(() => log.Calls >= 20 || run.IsCompleted, "20 batches of the slow step");
        Assert.False(run.IsCompleted, "the run ended before it could be cancelled");

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        var runDirectory = Directory.GetDirectories(Path.Combine(_ws.Runs, "backpressure")).Single();
        var manifest = RunManifest.Read(Path.Combine(runDirectory, "manifest.json"));
        var read = manifest.Steps.Single(s => s.Name == "load").RowsOut;
        var processed = manifest.Steps.Single(s => s.Name == "slow").RowsIn;

        // In flight at most: the slow step's input buffer (100 rows), one batch being cut (10), one source chunk (256), one batch in the step.
        Assert.InRange(read - processed, 0, 100 + 10 + 256 + 10);
    }
}

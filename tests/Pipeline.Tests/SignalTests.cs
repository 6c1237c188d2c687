namespace Distil.Pipeline.Tests;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM sent to the real CLI stop a run cleanly: exit 130 / 143, manifest cancelled,
/// finished batches kept, nothing half-written left in the output or run folder, and a rerun resumes to the
/// dataset an uninterrupted run writes.
/// </summary>
public sealed class SignalTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private const string Definition = """
        {
          "name": "signalled",
          "steps": [
            { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
            { "name": "slow", "type": "pass_through", "delay_ms": 20, "input_batch_size": 10 },
            { "name": "out", "type": "write_parquet", "path": "out.parquet", "row_group_size": 100 }
          ]
        }
        """;

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public async Task Signal_cancels_the_run_cleanly_and_a_rerun_resumes(string signal, int exitCode)
    {
        _ws.WritePrompts(1500);
        _ws.Write("pipeline.json", Definition);

        using (var run = DistilProcess.Start(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out"))
        {
            while (CachedBatches() < 10 && !run.HasExited)
            {
                await Task.Delay(5);
            }

            Assert.False(run.HasExited, "the run finished before the signal; make the slow step slower");
            run.Signal(signal);
            var (code, _, stderr) = await run.WaitAsync();
            Assert.True(code == exitCode, $"exit {code}: {stderr}");
            Assert.Contains("cancelled", stderr);
        }

        var runDirectory = Directory.GetDirectories(Path.Combine(_ws.Runs, "signalled")).Single();
        var manifest = RunManifest.Read(Path.Combine(runDirectory, RunManifest.FileName));
        Assert.Equal(RunStatus.Cancelled, manifest.Status);
        var kept = CachedBatches();
        Assert.InRange(kept, 10, 149);
        Assert.Empty(Directory.GetFiles(_ws.Root, "*.partial", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFileSystemEntries(_ws.Outputs));
        Assert.Empty(Directory.GetFileSystemEntries(_ws.Root, ".out*"));

        var resumed = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var clean = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs-clean", "--output", "out-clean");
        Assert.True(clean.ExitCode == 0, clean.Stderr);

        manifest = RunManifest.Read(Path.Combine(runDirectory, RunManifest.FileName));
        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.Equal(kept, manifest.Steps.Single(s => s.Name == "slow").CachedBatches);
        var resumedRows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "out.parquet"));
        var cleanRows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Root, "out-clean", "out.parquet"));
        Assert.Equal(1500, cleanRows.Count);
        Assert.Equal(ResumeTests.Canonical(cleanRows), ResumeTests.Canonical(resumedRows));
    }

    private int CachedBatches()
    {
        var cache = _ws.StepCache("signalled", "slow");
        return Directory.Exists(cache) ? Directory.GetFiles(cache, "*.jsonl").Length : 0;
    }
}

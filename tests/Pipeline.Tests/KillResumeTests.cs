namespace Distil.Pipeline.Tests;

/// <summary>
/// kill -9 of the real CLI at an arbitrary point, then a rerun, gives exactly the rows of an uninterrupted run:
/// none lost, none repeated, same order, same values.
/// </summary>
public sealed class KillResumeTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Resume_after_kill_loses_no_rows_and_repeats_none()
    {
        _ws.WritePrompts(3000, duplicateEvery: 10);
        _ws.Write("pipeline.json", """
            {
              "name": "killed",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "dedup", "type": "dedup", "column": "instruction", "input_batch_size": 25 },
                { "name": "slow", "type": "pass_through", "delay_ms": 15, "input_batch_size": 20, "max_parallelism": 2 },
                { "name": "drop_fives", "type": "filter", "column": "n", "op": "ne", "value": 5, "input_batch_size": 33 },
                { "name": "out", "type": "write_parquet", "path": "out.parquet", "row_group_size": 100 }
              ]
            }
            """);
        var slowCache = (string runs) => Directory.Exists(_ws.StepCache("killed", "slow"))
            ? Directory.GetFiles(_ws.StepCache("killed", "slow"), "*.jsonl").Length
            : 0;

        // Killed twice at different points, then left to finish.
        foreach (var killAfter in new[] { 15, 60 })
        {
            using var run = DistilProcess.Start(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out");
            await Eventually.WaitUntilAsync(() => slowCache(_ws.Runs) >= killAfter || run.HasExited, $"{killAfter} cached batches of the slow step");

            Assert.False(run.HasExited, "the run finished before it could be killed; make the slow step slower");
            run.Kill();
            await run.WaitAsync();
            Assert.False(File.Exists(Path.Combine(_ws.Outputs, "out.parquet")));
        }

        var resumed = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var uninterrupted = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs-clean", "--output", "out-clean");
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Stderr);

        var resumedRows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Root, "out", "out.parquet"));
        var cleanRows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Root, "out-clean", "out.parquet"));
        Assert.Equal(2699, cleanRows.Count);
        Assert.Equal(ResumeTests.Canonical(cleanRows), ResumeTests.Canonical(resumedRows));

        var runDirectory = Directory.GetDirectories(Path.Combine(_ws.Runs, "killed")).Single();
        var manifest = RunManifest.Read(Path.Combine(runDirectory, "manifest.json"));
        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.InRange(manifest.Steps.Single(s => s.Name == "slow").CachedBatches, 60, 134);
        Assert.Equal(300, manifest.Steps.Single(s => s.Name == "dedup").Dropped["duplicate"]);
    }
}

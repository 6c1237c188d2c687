using Distil.Pipeline.Runtime;

namespace Distil.Pipeline.Tests;

/// <summary>Finished batches are kept in the step cache and read back on the next run instead of recomputed.</summary>
public sealed class ResumeTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private PipelineDefinition Define(TestSteps.CallLog log) => _ws.Define("""
        {
          "name": "resume",
          "steps": [
            { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
            { "name": "dedup", "type": "dedup", "column": "instruction", "input_batch_size": 9 },
            { "name": "gen", "type": "tag", "label": "g", "input_batch_size": 10 },
            { "name": "score", "type": "fail_every", "every": 7, "input_batch_size": 6 },
            { "name": "out", "type": "write_parquet", "path": "out.parquet", "row_group_size": 25 }
          ]
        }
        """, TestSteps.Registry(log));

    [Fact]
    public async Task Rerun_reads_cached_batches_and_does_not_call_the_task_again()
    {
        _ws.WritePrompts(100, duplicateEvery: 10);
        var first = new TestSteps.CallLog();
        var firstManifest = await _ws.RunAsync(Define(first));
        var firstRows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "out.parquet"));

        var second = new TestSteps.CallLog();
        var secondManifest = await _ws.RunAsync(Define(second));
        var secondRows = await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "out.parquet"));

        Assert.Equal(9, first.Calls); // 90 unique rows in batches of 10
        Assert.Equal(0, second.Calls);
        Assert.Equal(firstManifest.RunDirectory, secondManifest.RunDirectory);
        Assert.Equal(9, secondManifest.Steps.Single(s => s.Name == "gen").CachedBatches);
        Assert.Equal(90, secondManifest.Steps.Single(s => s.Name == "gen").InputTokens);
        Assert.Equal(firstManifest.Steps.Single(s => s.Name == "score").Errors, secondManifest.Steps.Single(s => s.Name == "score").Errors);
        Assert.Equal(10, secondManifest.Steps.Single(s => s.Name == "dedup").Dropped["duplicate"]);
        Assert.Equal(Canonical(firstRows), Canonical(secondRows));
    }

    [Fact]
    public async Task Run_folder_keeps_the_exact_definition_text()
    {
        _ws.WritePrompts(10);
        var definition = Define(new TestSteps.CallLog());
        var manifest = await _ws.RunAsync(definition);

        var copy = await File.ReadAllTextAsync(Path.Combine(manifest.RunDirectory, PipelineRunner.DefinitionFileName));
        Assert.Equal(definition.Json, copy);
        Assert.Contains("\"fail_every\"", copy);
    }

    [Fact]
    public async Task Only_missing_batches_are_recomputed()
    {
        _ws.WritePrompts(100);
        var manifest = await _ws.RunAsync(Define(new TestSteps.CallLog()));
        var genCache = _ws.StepCache("resume", "gen");
        Assert.Equal(10, manifest.Steps.Single(s => s.Name == "gen").ComputedBatches);
        var batches = Directory.GetFiles(genCache, "*.jsonl").Order(StringComparer.Ordinal).ToList();
        File.Delete(batches[3]);
        File.Delete(batches[7]);

        var log = new TestSteps.CallLog();
        await _ws.RunAsync(Define(log));

        Assert.Equal(2, log.Calls);
    }

    [Fact]
    public async Task Fresh_ignores_the_cache()
    {
        _ws.WritePrompts(30);
        await _ws.RunAsync(Define(new TestSteps.CallLog()));
        var log = new TestSteps.CallLog();
        await _ws.RunAsync(Define(log), _ws.Options(fresh: true));
        Assert.Equal(3, log.Calls);
    }

    [Fact]
    public async Task Changed_input_data_gets_a_new_run_directory()
    {
        _ws.WritePrompts(30);
        var before = await _ws.RunAsync(Define(new TestSteps.CallLog()));
        _ws.WritePrompts(31);
        var log = new TestSteps.CallLog();
        var after = await _ws.RunAsync(Define(log));
        Assert.NotEqual(before.Fingerprint, after.Fingerprint);

        // The step cache is keyed by content: the three batches whose rows did not change are reused.
        Assert.Equal(1, log.Calls);
        Assert.Equal(3, after.Steps.Single(s => s.Name == "gen").CachedBatches);

        var limited = await _ws.RunAsync(Define(new TestSteps.CallLog()), _ws.Options(range: new SourceRange(0, 5)));
        Assert.NotEqual(after.Fingerprint, limited.Fingerprint);
        Assert.Equal(5, limited.Steps.Single(s => s.Name == "load").RowsOut);
    }

    [Fact]
    public async Task Cancelled_run_keeps_finished_batches_and_the_next_run_resumes()
    {
        _ws.WritePrompts(400);
        var json = """
            {
              "name": "cancel",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "gen", "type": "tag", "label": "g", "input_batch_size": 10, "delay_ms": 20 },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """;
        var log = new TestSteps.CallLog();
        using var cts = new CancellationTokenSource();
        var run = _ws.RunAsync(_ws.Define(json, TestSteps.Registry(log)), cancellationToken: cts.Token);
        await Eventually.WaitUntilAsync(() => log.Calls >= 5 || run.IsCompleted, "5 batches of the slow step");
        Assert.False(run.IsCompleted, "the run ended before it could be cancelled");

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        var runDirectory = Directory.GetDirectories(Path.Combine(_ws.Runs, "cancel")).Single();
        Assert.Equal(RunStatus.Cancelled, RunManifest.Read(Path.Combine(runDirectory, "manifest.json")).Status);
        var cached = Directory.GetFiles(_ws.StepCache("cancel", "gen"), "*.jsonl").Length;
        Assert.InRange(cached, 4, 39);
        Assert.False(File.Exists(Path.Combine(_ws.Outputs, "out.jsonl")));

        var resumed = new TestSteps.CallLog();
        var manifest = await _ws.RunAsync(_ws.Define(json, TestSteps.Registry(resumed)));
        Assert.Equal(40 - cached, resumed.Calls);
        Assert.Equal(400, TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl")).Count);
        Assert.Equal(RunStatus.Succeeded, manifest.Status);
    }

    internal static List<string> Canonical(List<Dictionary<string, object>> rows) =>
        rows.Select(r => string.Join("|", r.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={Format(kv.Value)}"))).ToList();

    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => "s:" + s,
        ReadOnlyMemory<char> m => "s:" + m,
        System.Collections.IDictionary d => "{" + string.Join(",", d.Keys.Cast<object>().Select(k => $"{k}={Format(d[k])}")) + "}",
        System.Collections.IEnumerable e => "[" + string.Join(",", e.Cast<object?>().Select(Format)) + "]",
        _ => $"{value.GetType().Name}:{value}",
    };
}

using Distil.Pipeline.Runtime;

namespace Distil.Pipeline.Tests;

/// <summary>
/// Transforms (steps that do not cache batches) that are the only successor of their one predecessor are fused into
/// it when the network is built and run on its loop: rows, order, batch boundaries, metrics, progress, caching and
/// failures are the same as with a hand-off.
/// </summary>
public sealed class FusedTransformTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Chained_transforms_keep_every_row_in_order_and_count_their_own_metrics()
    {
        _ws.WritePrompts(1000);
        var definition = _ws.Define("""
            {
              "name": "fused",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "skip_first", "type": "filter", "column": "n", "op": "ge", "value": 100, "input_batch_size": 7 },
                { "name": "p1", "type": "pass_through", "cache": false, "input_batch_size": 13 },
                { "name": "science", "type": "filter", "column": "topic", "op": "eq", "value": "science", "input_batch_size": 64 },
                { "name": "rename", "type": "rename_columns", "columns": { "instruction": "prompt" }, "input_batch_size": 5 },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """);

        var manifest = await _ws.RunAsync(definition);

        var rows = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        var expected = Enumerable.Range(100, 900).Where(n => n % 3 == 0).ToList();
        Assert.Equal(expected, rows.Select(r => r.GetProperty("n").GetInt32()));
        Assert.All(rows, r => Assert.Equal($"prompt {r.GetProperty("n").GetInt32()}", r.GetProperty("prompt").GetString()));
        StepMetrics Step(string name) => manifest.Steps.Single(s => s.Name == name);
        Assert.Equal((1000, 900), (Step("skip_first").RowsIn, Step("skip_first").RowsOut));
        Assert.Equal((900, 900), (Step("p1").RowsIn, Step("p1").RowsOut));
        Assert.Equal((900, 300), (Step("science").RowsIn, Step("science").RowsOut));
        Assert.Equal(600, Step("science").Dropped["filtered"]);
        Assert.Equal((300, 300), (Step("rename").RowsIn, Step("out").RowsIn));
    }

    [Fact]
    public async Task A_failing_transform_fails_the_run_with_its_own_error_and_marks_the_manifest()
    {
        _ws.WritePrompts(500);
        var definition = _ws.Define("""
            {
              "name": "fused-fail",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "p1", "type": "pass_through", "cache": false },
                { "name": "boom", "type": "throw_at", "id": 321 },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """, TestSteps.Registry());

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => _ws.RunAsync(definition));

        Assert.Equal("step 'boom' cannot handle row 321", error.Message);
        Assert.False(File.Exists(Path.Combine(_ws.Outputs, "out.jsonl")));
        var manifest = Directory.GetFiles(_ws.Runs, "manifest.json", SearchOption.AllDirectories).Single();
        Assert.Contains("\"failed\"", File.ReadAllText(manifest), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_fused_chain_reports_progress_and_uses_the_cache_per_step()
    {
        _ws.WritePrompts(90);
        var log = new TestSteps.CallLog();
        var definition = _ws.Define("""
            {
              "name": "fused-cache",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "tag", "type": "tag", "label": "t", "input_batch_size": 10 },
                { "name": "science", "type": "filter", "column": "topic", "op": "eq", "value": "science", "input_batch_size": 4 },
                { "name": "p1", "type": "pass_through", "cache": false, "input_batch_size": 3 },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """, TestSteps.Registry(log));
        Assert.True(FusedStep.Fits(definition.Steps[2], definition), "the filter should run on the caching step's loop");
        Assert.True(FusedStep.Fits(definition.Steps[3], definition), "pass_through should run on the filter's (so the caching step's) loop");
        Assert.False(FusedStep.Fits(definition.Steps[1], definition), "a step that caches its batches keeps its own loop");

        var reports = new FanInAlignmentTests.RecordingProgress();
        var first = await _ws.RunAsync(definition, _ws.Options() with { Progress = reports });

        foreach (var (step, rowsDone) in new[] { ("tag", 90L), ("science", 90L), ("p1", 30L), ("out", 30L) })
        {
            var done = Assert.Single(reports.Reports, r => r.Step == step && r.Completed);
            Assert.Equal(rowsDone, done.RowsDone);
        }

        Assert.Equal(9, Directory.GetFiles(_ws.StepCache("fused-cache", "tag"), "*.jsonl").Length);
        Assert.False(Directory.Exists(_ws.StepCache("fused-cache", "science")), "a transform does not cache its batches");
        Assert.Equal((0, 9), (first.Steps.Single(s => s.Name == "tag").CachedBatches, first.Steps.Single(s => s.Name == "tag").ComputedBatches));
        var written = File.ReadAllText(Path.Combine(_ws.Outputs, "out.jsonl"));

        var second = await _ws.RunAsync(definition);

        Assert.Equal(9, log.Calls);
        StepMetrics Step(string name) => second.Steps.Single(s => s.Name == name);
        Assert.Equal((9, 0), (Step("tag").CachedBatches, Step("tag").ComputedBatches));
        Assert.Equal((90, 30), (Step("science").RowsIn, Step("science").RowsOut));
        Assert.Equal(60, Step("science").Dropped["filtered"]);
        Assert.Equal((30, 30), (Step("p1").RowsIn, Step("p1").RowsOut));
        Assert.Equal(written, File.ReadAllText(Path.Combine(_ws.Outputs, "out.jsonl")));
    }

    [Fact]
    public async Task A_transform_beside_a_sibling_branch_is_not_fused_and_both_branches_get_every_row()
    {
        _ws.WritePrompts(60);
        var definition = _ws.Define("""
            {
              "name": "not-fused",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "science", "type": "filter", "column": "topic", "op": "eq", "value": "science", "after": ["load"], "input_batch_size": 7 },
                { "name": "poetry", "type": "filter", "column": "topic", "op": "eq", "value": "poetry", "after": ["load"], "input_batch_size": 5 },
                { "name": "a", "type": "write_jsonl", "path": "a.jsonl", "after": ["science"] },
                { "name": "b", "type": "write_jsonl", "path": "b.jsonl", "after": ["poetry"] }
              ]
            }
            """);
        Assert.False(FusedStep.Fits(definition.Steps[1], definition), "load has two successors, so neither runs on its loop");
        Assert.False(FusedStep.Fits(definition.Steps[2], definition), "load has two successors, so neither runs on its loop");

        var manifest = await _ws.RunAsync(definition);

        var a = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "a.jsonl")).Select(r => r.GetProperty("n").GetInt32());
        var b = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "b.jsonl")).Select(r => r.GetProperty("n").GetInt32());
        Assert.Equal(Enumerable.Range(0, 60).Where(n => n % 3 == 0), a);
        Assert.Equal(Enumerable.Range(0, 60).Where(n => n % 3 != 0), b);
        Assert.Equal((60, 20), (manifest.Steps.Single(s => s.Name == "science").RowsIn, manifest.Steps.Single(s => s.Name == "science").RowsOut));
        Assert.Equal((60, 40), (manifest.Steps.Single(s => s.Name == "poetry").RowsIn, manifest.Steps.Single(s => s.Name == "poetry").RowsOut));
    }
}

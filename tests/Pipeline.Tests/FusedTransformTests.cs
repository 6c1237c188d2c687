namespace Distil.Pipeline.Tests;

/// <summary>
/// Transforms (steps that do not cache batches) with one predecessor run on that predecessor's loop instead of
/// their own: rows, order, batch boundaries, metrics and failures are the same as with a hand-off.
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
}

using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>Branches see every row, run concurrently, and are joined by row id whatever their batch sizes and parallelism.</summary>
public sealed class FanInAlignmentTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Theory]
    [InlineData(7, 1, 50, 1, 64)]
    [InlineData(3, 4, 11, 2, 5)]
    [InlineData(1, 1, 1000, 3, 1)]
    public async Task Joined_rows_never_misalign(int batchA, int parallelA, int batchB, int parallelB, int batchJoin)
    {
        _ws.WritePrompts(500);
        var definition = _ws.Define($$"""
            {
              "name": "fan",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "tag", "label": "a", "after": ["load"], "input_batch_size": {{batchA}}, "max_parallelism": {{parallelA}}, "delay_ms": 1 },
                { "name": "b", "type": "tag", "label": "b", "after": ["load"], "input_batch_size": {{batchB}}, "max_parallelism": {{parallelB}} },
                { "name": "join", "type": "combine_columns", "after": ["a", "b"], "columns": ["tag"], "output_columns": ["tags"], "input_batch_size": {{batchJoin}} },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """, TestSteps.Registry());

        var manifest = await _ws.RunAsync(definition);

        var rows = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        Assert.Equal(500, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var n = rows[i].GetProperty("n").GetInt64();
            Assert.Equal(i, n);
            Assert.Equal($"prompt {n}", rows[i].GetProperty("instruction").GetString());
            Assert.Equal([$"a:{n}", $"b:{n}"], rows[i].GetProperty("tags").EnumerateArray().Select(e => e.GetString()));
        }

        Assert.Equal(1000, manifest.Steps.Single(s => s.Name == "join").RowsIn);
        Assert.Equal(500, manifest.Steps.Single(s => s.Name == "join").RowsOut);
    }

    [Fact]
    public async Task Row_filtered_out_in_one_branch_is_dropped_from_the_join_and_counted()
    {
        _ws.WritePrompts(300);
        var definition = _ws.Define("""
            {
              "name": "fan-filter",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "tag", "label": "a", "after": ["load"], "input_batch_size": 13 },
                { "name": "only_science", "type": "filter", "column": "topic", "op": "eq", "value": "science", "input_batch_size": 4 },
                { "name": "b", "type": "tag", "label": "b", "after": ["load"], "input_batch_size": 32, "max_parallelism": 2 },
                { "name": "join", "type": "combine_columns", "after": ["only_science", "b"], "columns": ["tag"] },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """, TestSteps.Registry());

        var manifest = await _ws.RunAsync(definition);

        var rows = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        Assert.Equal(100, rows.Count);
        Assert.All(rows, r =>
        {
            var n = r.GetProperty("n").GetInt64();
            Assert.Equal(0, n % 3);
            Assert.Equal([$"a:{n}", $"b:{n}"], r.GetProperty("tags").EnumerateArray().Select(e => e.GetString()));
        });
        var join = manifest.Steps.Single(s => s.Name == "join");
        Assert.Equal(200, join.Dropped["missing_in_branch"]);
        Assert.Equal(200, manifest.Steps.Single(s => s.Name == "only_science").Dropped["filtered"]);
    }

    [Fact]
    public async Task Each_branch_gets_its_own_copy_of_a_row()
    {
        _ws.WritePrompts(20);
        var definition = _ws.Define("""
            {
              "name": "fan-copy",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "rename_columns", "columns": { "instruction": "prompt" }, "after": ["load"] },
                { "name": "b", "type": "tag", "label": "b", "after": ["load"] },
                { "name": "out_a", "type": "write_jsonl", "path": "a.jsonl", "after": ["a"] },
                { "name": "out_b", "type": "write_jsonl", "path": "b.jsonl", "after": ["b"] }
              ]
            }
            """, TestSteps.Registry());

        await _ws.RunAsync(definition);

        var a = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "a.jsonl"));
        var b = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "b.jsonl"));
        Assert.All(a, r => Assert.False(r.TryGetProperty("tag", out _)));
        Assert.All(b, r => Assert.True(r.TryGetProperty("instruction", out _)));
        Assert.Equal(20, a.Count);
        Assert.Equal(20, b.Count);
    }

    [Fact]
    public async Task Progress_of_a_join_counts_joined_rows_not_the_rows_of_every_branch()
    {
        _ws.WritePrompts(30);
        var definition = _ws.Define("""
            {
              "name": "fan-progress",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "tag", "label": "a", "after": ["load"], "input_batch_size": 4 },
                { "name": "only_science", "type": "filter", "column": "topic", "op": "eq", "value": "science" },
                { "name": "b", "type": "tag", "label": "b", "after": ["load"], "input_batch_size": 7 },
                { "name": "join", "type": "combine_columns", "after": ["only_science", "b"], "columns": ["tag"] },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """, TestSteps.Registry());
        var reports = new RecordingProgress();

        var manifest = await _ws.RunAsync(definition, _ws.Options() with { Progress = reports });

        var join = reports.Reports.Where(r => r.Step == "join").ToList();
        Assert.All(join, r => Assert.InRange(r.RowsDone, 0, 30));
        var last = Assert.Single(join, r => r.Completed);
        // 10 science rows joined, 20 dropped because the filter removed them from one branch: all 30 settled.
        Assert.Equal(30, last.RowsDone);
        Assert.Equal(30, last.RowsTotal);
        Assert.Equal(10, manifest.Steps.Single(s => s.Name == "join").RowsOut);
        Assert.Equal(40, manifest.Steps.Single(s => s.Name == "join").RowsIn);
    }

    /// <summary>Records reports on the reporting thread (<see cref="Progress{T}"/> would post them later).</summary>
    internal sealed class RecordingProgress : IProgress<StepProgress>
    {
        private readonly List<StepProgress> _reports = [];

        public IReadOnlyList<StepProgress> Reports
        {
            get
            {
                lock (_reports)
                {
                    return _reports.ToList();
                }
            }
        }

        public void Report(StepProgress value)
        {
            lock (_reports)
            {
                _reports.Add(value);
            }
        }
    }
}

namespace Distil.Pipeline.Tests;

/// <summary>Row-level failures become the error column and a count; they are never dropped silently and never fed to later steps.</summary>
public sealed class RowErrorTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Failed_rows_skip_later_steps_and_land_in_the_errors_file(bool stepOmitsFailedRows)
    {
        _ws.WritePrompts(40);
        var log = new TestSteps.CallLog();
        var definition = _ws.Define($$"""
            {
              "name": "errors",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "score", "type": "fail_every", "every": 4, "omit": {{(stepOmitsFailedRows ? "true" : "false")}}, "input_batch_size": 7 },
                { "name": "rec", "type": "record", "needs": ["score"], "input_batch_size": 5 },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """, TestSteps.Registry(log));

        var manifest = await _ws.RunAsync(definition);

        Assert.Equal(30, log.Seen.Count);
        Assert.All(log.Seen, r => Assert.NotEqual(0, r.Id % 4));
        Assert.Equal(10, manifest.Steps.Single(s => s.Name == "score").Errors);
        Assert.Equal(40, manifest.Steps.Single(s => s.Name == "score").RowsOut);
        Assert.Equal(10, manifest.Steps.Single(s => s.Name == "out").Dropped["row_error"]);

        var written = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        Assert.Equal(30, written.Count);
        Assert.All(written, r => Assert.False(r.TryGetProperty(Row.ErrorColumn, out _)));

        var errors = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.errors.jsonl"));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 4L), errors.Select(e => e.GetProperty("id").GetInt64()));
        Assert.All(errors, e => Assert.StartsWith("cannot score row", e.GetProperty("error").GetString()));
        Assert.Contains(Path.Combine(_ws.Outputs, "out.errors.jsonl"), manifest.OutputFiles);
    }

    [Fact]
    public async Task Failed_row_in_one_branch_stays_failed_after_the_join()
    {
        _ws.WritePrompts(12);
        var definition = _ws.Define("""
            {
              "name": "errors-join",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "fail_every", "every": 3, "after": ["load"] },
                { "name": "b", "type": "tag", "label": "b", "after": ["load"] },
                { "name": "join", "type": "combine_columns", "after": ["a", "b"], "columns": ["n"], "output_columns": ["ns"] },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """, TestSteps.Registry());

        var manifest = await _ws.RunAsync(definition);

        Assert.Equal(8, TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl")).Count);
        Assert.Equal(4, TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.errors.jsonl")).Count);
        Assert.Equal(4, manifest.Steps.Single(s => s.Name == "out").Dropped["row_error"]);
    }
}

namespace Distil.Pipeline.Tests;

/// <summary>The built-in transforms: keep, rename, filter, dedup.</summary>
public sealed class TransformTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public TransformTests() => _ws.WritePrompts(30, duplicateEvery: 5);

    public void Dispose() => _ws.Dispose();

    private async Task<List<System.Text.Json.JsonElement>> RunAsync(string steps)
    {
        var definition = _ws.Define($$"""
            {
              "name": "t",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                {{steps}},
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
              ]
            }
            """);
        await _ws.RunAsync(definition);
        return TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
    }

    [Theory]
    [InlineData("""{ "column": "n", "op": "lt", "value": 5 }""", 5)]
    [InlineData("""{ "column": "n", "op": "ge", "value": 5.5 }""", 24)]
    [InlineData("""{ "column": "n", "op": "eq", "value": 7 }""", 1)]
    [InlineData("""{ "column": "topic", "op": "ne", "value": "science" }""", 20)]
    [InlineData("""{ "column": "instruction", "op": "contains", "value": "prompt 1" }""", 11)]
    [InlineData("""{ "column": "topic", "op": "not_null" }""", 30)]
    [InlineData("""{ "column": "topic", "op": "gt", "value": "q" }""", 10)]
    public async Task Filter_keeps_rows_matching_the_predicate(string predicate, int expected)
    {
        var options = predicate.Trim().TrimStart('{').TrimEnd('}');
        var rows = await RunAsync($$"""{ "name": "f", "type": "filter", {{options}} }""");
        Assert.Equal(expected, rows.Count);
    }

    [Fact]
    public async Task Dedup_keeps_first_occurrence_across_batches()
    {
        var rows = await RunAsync("""{ "name": "d", "type": "dedup", "column": "instruction", "input_batch_size": 3 }""");
        Assert.Equal(24, rows.Count);
        Assert.Equal(rows.Count, rows.Select(r => r.GetProperty("instruction").GetString()).Distinct().Count());
        Assert.DoesNotContain(rows, r => r.GetProperty("n").GetInt64() % 5 == 4);
    }

    [Fact]
    public async Task Keep_and_rename_shape_the_columns()
    {
        var rows = await RunAsync("""
            { "name": "r", "type": "rename_columns", "columns": { "instruction": "prompt" } },
            { "name": "k", "type": "keep_columns", "columns": ["prompt", "n"] }
            """);
        Assert.All(rows, r => Assert.Equal(["prompt", "n"], r.EnumerateObject().Select(p => p.Name)));
    }
}

using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>
/// load_parquet on a file written by DuckDB (an independent writer, the npm peer @duckdb/node-api installed by
/// .ci/setup.sh): empty lists come back as empty lists, null lists as null.
/// </summary>
public sealed class DuckDbParquetTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Empty_lists_read_back_as_empty_lists_not_null()
    {
        var file = Path.Combine(_ws.Root, "duck.parquet");
        await DuckDb.WriteParquetAsync(file, """
            SELECT i AS n,
                   CASE WHEN i % 2 = 0 THEN []::VARCHAR[] ELSE ['a', 'b'] END AS tags,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE [i, i + 1] END AS nums,
                   CASE WHEN i % 4 = 0 THEN [] ELSE [{'role': 'user', 'content': 'hi'}] END AS messages
            FROM range(12) t(i)
            """);
        var definition = _ws.Define($$"""
            { "name": "duck", "steps": [
                { "name": "load", "type": "load_parquet", "path": "{{file.Replace("\\", "/", StringComparison.Ordinal)}}" },
                { "name": "out", "type": "write_jsonl", "path": "rows.jsonl" } ] }
            """);

        await _ws.RunAsync(definition);

        var rows = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "rows.jsonl"));
        Assert.Equal(12, rows.Count);
        foreach (var row in rows)
        {
            var n = row.GetProperty("n").GetInt64();
            Assert.Equal(n % 2 == 0 ? "[]" : """["a","b"]""", row.GetProperty("tags").GetRawText());
            Assert.Equal(n % 3 == 0 ? JsonValueKind.Null : JsonValueKind.Array, row.GetProperty("nums").ValueKind);
            Assert.Equal(n % 4 == 0 ? 0 : 1, row.GetProperty("messages").GetArrayLength());
        }
    }
}

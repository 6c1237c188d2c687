using Distil.Pipeline;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Distil.Pipeline.Tests;

/// <summary>Loaders stream their files, report malformed records with file and line, and skip them on request with a count.</summary>
public sealed class LoaderTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private static string Pipeline(string load) => $$"""
        {
          "name": "loader",
          "steps": [
            {{load}},
            { "name": "out", "type": "write_jsonl", "path": "out.jsonl" }
          ]
        }
        """;

    [Fact]
    public async Task Malformed_jsonl_line_fails_with_file_and_line()
    {
        _ws.Write("data/p.jsonl", "{\"a\": 1}\n\n{\"a\": 2}\n{\"a\": 3,,}\n{\"a\": 4}\n");
        var definition = _ws.Define(Pipeline("""{ "name": "load", "type": "load_jsonl", "path": "data/p.jsonl" }"""));

        var e = await Assert.ThrowsAsync<PipelineDefinitionException>(() => _ws.RunAsync(definition));

        Assert.EndsWith("p.jsonl", e.File);
        Assert.Equal(4, e.Line);
        Assert.Contains("on_error", e.Message);
        Assert.False(File.Exists(Path.Combine(_ws.Outputs, "out.jsonl")));
    }

    [Fact]
    public async Task Skip_policy_drops_and_counts_malformed_lines()
    {
        _ws.Write("data/p.jsonl", "{\"a\": 1}\nnot json\n[1, 2]\n{\"a\": 2.5, \"b\": [1, {\"c\": true}]}\n");
        var definition = _ws.Define(Pipeline("""{ "name": "load", "type": "load_jsonl", "path": "data/p.jsonl", "on_error": "skip" }"""));

        var manifest = await _ws.RunAsync(definition);

        var rows = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        Assert.Equal(2, rows.Count);
        Assert.Equal("2.5", rows[1].GetProperty("a").GetRawText());
        Assert.Equal(2, manifest.Steps.Single(s => s.Name == "load").Dropped["malformed_record"]);
    }

    [Fact]
    public async Task Csv_quoting_delimiters_quotes_and_newlines()
    {
        _ws.Write("data/p.csv", "instruction,topic\n\"Hello, world\",greeting\n\"She said \"\"hi\"\"\",quote\n\"line one\nline two\",multi\nplain,\n");
        var definition = _ws.Define(Pipeline("""{ "name": "load", "type": "load_csv", "path": "data/p.csv" }"""));

        await _ws.RunAsync(definition);

        var rows = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        Assert.Equal(["Hello, world", "She said \"hi\"", "line one\nline two", "plain"], rows.Select(r => r.GetProperty("instruction").GetString()));
        Assert.Equal(["greeting", "quote", "multi", ""], rows.Select(r => r.GetProperty("topic").GetString()));
    }

    [Fact]
    public async Task Csv_record_with_wrong_field_count_names_its_line()
    {
        _ws.Write("data/p.csv", "a,b\n1,2\n\"x\ny\",3\n4,5,6\n");
        var definition = _ws.Define(Pipeline("""{ "name": "load", "type": "load_csv", "path": "data/p.csv" }"""));

        var e = await Assert.ThrowsAsync<PipelineDefinitionException>(() => _ws.RunAsync(definition));
        Assert.Equal(5, e.Line);
        Assert.Contains("expected 2 fields", e.Message);

        var skipping = _ws.Define(Pipeline("""{ "name": "load", "type": "load_csv", "path": "data/p.csv", "on_error": "skip" }"""));
        var manifest = await _ws.RunAsync(skipping);
        Assert.Equal(1, manifest.Steps.Single(s => s.Name == "load").Dropped["malformed_record"]);
        Assert.Equal(2, TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl")).Count);
    }

    [Fact]
    public async Task Csv_header_gives_columns_for_validation()
    {
        _ws.Write("data/p.csv", "prompt;kind\nx;y\n");
        var e = Assert.Throws<PipelineDefinitionException>(() => _ws.Define("""
            {
              "name": "loader",
              "steps": [
                { "name": "load", "type": "load_csv", "path": "data/p.csv", "delimiter": ";" },
                { "name": "k", "type": "keep_columns", "columns": ["instruction"] }
              ]
            }
            """));
        Assert.Contains("available: prompt, kind", e.Message);
        Assert.Equal(5, e.Line);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Parquet_source_reads_row_groups_with_nested_values()
    {
        var messages = new StructField("element", new DataField<string>("role", true), new DataField<string>("content", true));
        var schema = new ParquetSchema(new DataField<int?>("n"), new DataField<string>("text", true), new DataField<float?>("score"), new ListField("messages", messages));
        var path = Path.Combine(_ws.Root, "data", "in.parquet");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using (var stream = File.Create(path))
        {
            for (var group = 0; group < 3; group++)
            {
                var rows = Enumerable.Range(group * 4, 4).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
                {
                    ["n"] = (int?)i,
                    ["text"] = i % 2 == 0 ? $"t{i}" : null,
                    ["score"] = (float?)(i / 2f),
                    ["messages"] = new List<Dictionary<string, object?>> { new() { ["role"] = "user", ["content"] = $"q{i}" } },
                }).ToList();
                await ParquetSerializer.SerializeUntypedAsync(rows!, schema, stream, new ParquetOptions { Append = group > 0 });
            }
        }

        var definition = _ws.Define(Pipeline("""{ "name": "load", "type": "load_parquet", "path": "data/in.parquet" }"""));
        var manifest = await _ws.RunAsync(definition, _ws.Options(range: new SourceRange(3, 6)));

        var read = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        Assert.Equal([3L, 4, 5, 6, 7, 8], read.Select(r => r.GetProperty("n").GetInt64()));
        Assert.Equal("2.0", read[1].GetProperty("score").GetRawText());
        Assert.Equal("q4", read[1].GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("t4", read[1].GetProperty("text").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, read[0].GetProperty("text").ValueKind);
        Assert.Equal(6, manifest.Steps.Single(s => s.Name == "load").RowsOut);
    }
}

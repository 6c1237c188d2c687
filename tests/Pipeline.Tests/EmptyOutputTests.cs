using Parquet;
using Parquet.Meta;

namespace Distil.Pipeline.Tests;

/// <summary>
/// When no row reaches write_parquet (a filter kept none, every row errored) the run still ends with a readable
/// Parquet file carrying the columns the graph knows arrive, and the errors file beside it is kept.
/// </summary>
public sealed class EmptyOutputTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Filter_that_keeps_no_rows_writes_an_empty_parquet_with_the_known_columns()
    {
        _ws.WritePrompts(20);
        var definition = _ws.Define("""
            {
              "name": "none-kept",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "keep_none", "type": "filter", "column": "n", "op": "gt", "value": 1000 },
                { "name": "out", "type": "write_parquet", "path": "out.parquet" }
              ]
            }
            """);

        var manifest = await _ws.RunAsync(definition);

        var path = Assert.Single(manifest.OutputFiles);
        await using var reader = await ParquetReader.CreateAsync(path);
        Assert.Equal(0, reader.Metadata!.NumRows);
        var fields = reader.Schema.GetDataFields();
        Assert.Equal(["instruction", "n", "topic"], fields.Select(f => f.Name));
        Assert.All(reader.Metadata.Schema.Skip(1), e =>
        {
            Assert.Equal(Parquet.Meta.Type.BYTE_ARRAY, e.Type);
            Assert.NotNull(e.LogicalType?.STRING);
            Assert.Equal(FieldRepetitionType.OPTIONAL, e.RepetitionType);
        });
        Assert.Empty(await TestWorkspace.ReadParquetAsync(path));
        Assert.Equal(20, manifest.Steps.Single(s => s.Name == "keep_none").Dropped["filtered"]);
    }

    [Fact]
    public async Task Every_row_errored_keeps_the_errors_file_and_writes_an_empty_parquet()
    {
        _ws.WritePrompts(6);
        var definition = _ws.Define("""
            {
              "name": "all-errors",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "score", "type": "fail_every", "every": 1 },
                { "name": "out", "type": "write_parquet", "path": "out.parquet" }
              ]
            }
            """, TestSteps.Registry());

        var manifest = await _ws.RunAsync(definition);

        var parquet = Assert.Single(manifest.OutputFiles, f => f.EndsWith(".parquet", StringComparison.Ordinal));
        var errors = Assert.Single(manifest.OutputFiles, f => f.EndsWith(".errors.jsonl", StringComparison.Ordinal));
        Assert.Equal(6, TestWorkspace.ReadJsonl(errors).Count);
        await using var reader = await ParquetReader.CreateAsync(parquet);
        Assert.Equal(0, reader.Metadata!.NumRows);
        // The error column is not data: it is not part of the schema.
        Assert.Equal(["instruction", "n", "topic", "score"], reader.Schema.GetDataFields().Select(f => f.Name));
    }

    [Fact]
    public async Task Explicit_columns_shape_the_empty_file()
    {
        _ws.WritePrompts(4);
        var definition = _ws.Define("""
            {
              "name": "picked",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "keep_none", "type": "filter", "column": "topic", "op": "eq", "value": "history" },
                { "name": "out", "type": "write_parquet", "path": "out.parquet", "columns": ["topic", "instruction"] }
              ]
            }
            """);

        var manifest = await _ws.RunAsync(definition);

        await using var reader = await ParquetReader.CreateAsync(Assert.Single(manifest.OutputFiles));
        Assert.Equal(["topic", "instruction"], reader.Schema.GetDataFields().Select(f => f.Name));
        Assert.Equal(0, reader.Metadata!.NumRows);
    }

    [Fact]
    public async Task No_rows_from_a_parquet_source_writes_its_columns_read_at_validation_and_keeps_the_errors_file()
    {
        // load_parquet reads the file's schema when the definition is checked, so even with no row reaching the
        // sink its columns are known (an empty output is not the "no rows reached it" error).
        _ws.WritePrompts(6);
        var make = _ws.Define("""
            { "name": "make", "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "out", "type": "write_parquet", "path": "in.parquet" } ] }
            """);
        var input = Assert.Single((await _ws.RunAsync(make)).OutputFiles);
        var definition = _ws.Define($$"""
            { "name": "unknown", "steps": [
                { "name": "load", "type": "load_parquet", "path": "{{input.Replace("\\", "/", StringComparison.Ordinal)}}" },
                { "name": "score", "type": "fail_every", "every": 1 },
                { "name": "out", "type": "write_parquet", "path": "empty.parquet" } ] }
            """, TestSteps.Registry());
        Assert.NotNull(definition["load"].ColumnsOut);

        var manifest = await _ws.RunAsync(definition);

        Assert.Equal(6, TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.errors.jsonl")).Count);
        await using var reader = await ParquetReader.CreateAsync(Path.Combine(_ws.Outputs, "empty.parquet"));
        Assert.Equal(definition["out"].ColumnsIn, reader.Schema.GetDataFields().Select(f => f.Name));
        Assert.Equal(0, reader.Metadata!.NumRows);
    }
}

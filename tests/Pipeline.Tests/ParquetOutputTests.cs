using Parquet;
using Parquet.Meta;

namespace Distil.Pipeline.Tests;

/// <summary>
/// write_parquet output checked from the file's own footer (the Thrift schema elements: physical, converted and
/// logical types, repetition) and with Parquet.Net's readers, not with the code that wrote it.
/// </summary>
public sealed class ParquetOutputTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string> WriteAsync(string jsonl, int rowGroupSize = 3)
    {
        _ws.Write("data/rows.jsonl", jsonl);
        var definition = _ws.Define($$"""
            {
              "name": "pq",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/rows.jsonl" },
                { "name": "out", "type": "write_parquet", "path": "sub/out.parquet", "row_group_size": {{rowGroupSize}} }
              ]
            }
            """);
        var manifest = await _ws.RunAsync(definition);
        return Assert.Single(manifest.OutputFiles);
    }

    private static string Rows(int count) => string.Concat(Enumerable.Range(0, count).Select(i =>
        $$"""{"prompt": "p{{i}}", "n": {{i}}, "score": {{i}}.5, "ok": {{(i % 2 == 0 ? "true" : "false")}}, "generations": ["a{{i}}", null], "messages": [{"role": "user", "content": "q{{i}}"}, {"role": "assistant", "content": "r{{i}}"}]}""" + "\n"));

    [Fact]
    public async Task Schema_has_logical_types_and_list_of_structs()
    {
        var path = await WriteAsync(Rows(8));

        await using var reader = await ParquetReader.CreateAsync(path);
        var elements = reader.Metadata!.Schema;
        SchemaElement Find(string name, int after = 0) => elements.Skip(after).First(e => e.Name == name);
        int IndexOf(string name) => elements.FindIndex(e => e.Name == name);

        var prompt = Find("prompt");
        Assert.Equal(Parquet.Meta.Type.BYTE_ARRAY, prompt.Type);
        Assert.NotNull(prompt.LogicalType?.STRING);
        Assert.Equal(FieldRepetitionType.OPTIONAL, prompt.RepetitionType);
        Assert.Equal(Parquet.Meta.Type.INT64, Find("n").Type);
        Assert.Equal(Parquet.Meta.Type.DOUBLE, Find("score").Type);
        Assert.Equal(Parquet.Meta.Type.BOOLEAN, Find("ok").Type);

        var generations = IndexOf("generations");
        Assert.NotNull(elements[generations].LogicalType?.LIST);
        Assert.Equal(FieldRepetitionType.REPEATED, elements[generations + 1].RepetitionType);
        Assert.Equal(Parquet.Meta.Type.BYTE_ARRAY, elements[generations + 2].Type);
        Assert.NotNull(elements[generations + 2].LogicalType?.STRING);

        // messages (LIST) → list (REPEATED group) → element (group of 2) → role, content (UTF8 strings)
        var messages = IndexOf("messages");
        Assert.NotNull(elements[messages].LogicalType?.LIST);
        Assert.Equal(ConvertedType.LIST, elements[messages].ConvertedType);
        Assert.Equal(1, elements[messages].NumChildren);
        Assert.Equal(FieldRepetitionType.REPEATED, elements[messages + 1].RepetitionType);
        Assert.Equal(2, elements[messages + 2].NumChildren);
        Assert.Null(elements[messages + 2].Type);
        Assert.Equal(["role", "content"], new[] { elements[messages + 3].Name, elements[messages + 4].Name });
        Assert.All(new[] { elements[messages + 3], elements[messages + 4] }, e => Assert.NotNull(e.LogicalType?.STRING));

        Assert.Equal(3, reader.RowGroupCount);
        Assert.Equal(8, reader.Metadata.NumRows);
    }

    [Fact]
    public async Task Values_read_back_row_for_row()
    {
        var path = await WriteAsync(Rows(8));

        var rows = await TestWorkspace.ReadParquetAsync(path);

        Assert.Equal(8, rows.Count);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal((long)i, rows[i]["n"]);
            Assert.Equal(i + 0.5, rows[i]["score"]);
            Assert.Equal(i % 2 == 0, rows[i]["ok"]);
            Assert.Equal($"p{i}", rows[i]["prompt"].ToString());
            // Parquet.Net's untyped reader leaves null list elements out; the levels test below checks the null is stored.
            var generations = ((System.Collections.IEnumerable)rows[i]["generations"]).Cast<object?>().ToList();
            Assert.Equal($"a{i}", generations[0]!.ToString());
            var messages = ((System.Collections.IEnumerable)rows[i]["messages"]).Cast<IDictionary<string, object>>().ToList();
            Assert.Equal(["user", "assistant"], messages.Select(m => m["role"].ToString()));
            Assert.Equal([$"q{i}", $"r{i}"], messages.Select(m => m["content"].ToString()));
        }
    }

    [Fact]
    public async Task Nested_column_has_list_repetition_levels()
    {
        var path = await WriteAsync(Rows(4), rowGroupSize: 10);

        await using var reader = await ParquetReader.CreateAsync(path);
        using var group = reader.OpenRowGroupReader(0);
        var content = reader.Schema.GetDataFields().Single(f => f.Path.ToString().Contains("messages") && f.Name == "content");
        using var raw = await group.ReadRawColumnDataBaseAsync(content);

        // Two messages per row: the first starts a new row (level 0), the second continues the list (level 1).
        Assert.Equal([0, 1, 0, 1, 0, 1, 0, 1], raw.RepetitionLevels.ToArray());

        // generations = ["a<i>", null]: a present element has the full definition level (3), a null element one less.
        var element = reader.Schema.GetDataFields().Single(f => f.Path.ToString().Contains("generations"));
        using var generations = await group.ReadRawColumnDataBaseAsync(element);
        Assert.Equal([3, 2, 3, 2, 3, 2, 3, 2], generations.DefinitionLevels.ToArray());
        Assert.Equal([0, 1, 0, 1, 0, 1, 0, 1], generations.RepetitionLevels.ToArray());
    }

    [Fact]
    public async Task Conflicting_type_in_a_later_row_group_is_an_error_naming_the_column()
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => WriteAsync("{\"v\": 1}\n{\"v\": 2}\n{\"v\": 3}\n{\"v\": \"four\"}\n", rowGroupSize: 2));
        Assert.Contains("column 'v'", error.Message);
        Assert.Contains("row 3", error.Message);
        Assert.False(File.Exists(Path.Combine(_ws.Outputs, "sub", "out.parquet")));
    }

    [Fact]
    public async Task Conflicting_types_within_the_first_rows_are_an_error_naming_the_column()
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => WriteAsync("{\"v\": true}\n{\"v\": [1]}\n"));
        Assert.Contains("column 'v'", error.Message);
    }

    [Fact]
    public async Task Integers_and_floats_in_one_column_become_floats()
    {
        var path = await WriteAsync("{\"v\": 1}\n{\"v\": 2.5}\n{\"v\": null}\n");
        var rows = await TestWorkspace.ReadParquetAsync(path);
        Assert.Equal(1.0, rows[0]["v"]);
        Assert.Equal(2.5, rows[1]["v"]);
    }
}

namespace Distil.Pipeline.Tests;

/// <summary>
/// input_mappings and output_mappings are applied through a view of each row: the step reads and writes under its
/// own names, the row keeps its columns (names and order), and outputs land under their mapped names.
/// </summary>
public sealed class ColumnMappingTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private PipelineDefinition Define(TestSteps.CallLog log) => _ws.Define("""
        {
          "name": "mapped",
          "steps": [
            { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
            { "name": "seen", "type": "record", "needs": ["question"], "input_mappings": { "question": "instruction" }, "after": ["load"], "input_batch_size": 4 },
            { "name": "tagged", "type": "tag", "label": "t", "output_mappings": { "tag": "label" }, "after": ["seen"], "input_batch_size": 4 },
            { "name": "sibling", "type": "record", "needs": ["instruction"], "after": ["load"] },
            { "name": "out", "type": "write_jsonl", "path": "out.jsonl", "after": ["tagged"] },
            { "name": "out_sibling", "type": "write_jsonl", "path": "sibling.jsonl", "after": ["sibling"] }
          ]
        }
        """, TestSteps.Registry(log));

    [Fact]
    public async Task A_mapped_step_sees_its_names_while_the_row_keeps_its_own_and_outputs_land_under_the_mapped_name()
    {
        _ws.WritePrompts(10);
        var log = new TestSteps.CallLog();

        await _ws.RunAsync(Define(log));

        var mapped = log.Seen.Where(r => r.Has("question")).ToList();
        Assert.Equal(10, mapped.Count);
        Assert.All(mapped, r => Assert.Equal($"prompt {r["n"]}", r["question"]));
        Assert.All(mapped, r => Assert.False(r.Has("instruction"), "the step asked for the column as 'question'"));
        var sibling = log.Seen.Where(r => !r.Has("question")).ToList();
        Assert.Equal(10, sibling.Count);
        Assert.All(sibling, r => Assert.Equal($"prompt {r["n"]}", r["instruction"]));

        // The row reaches the sink with its columns unrenamed and in their order, plus the output under its new name.
        foreach (var row in TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl")))
        {
            Assert.Equal(["instruction", "n", "topic", "label"], row.EnumerateObject().Select(p => p.Name));
            Assert.Equal($"t:{row.GetProperty("n").GetInt32()}", row.GetProperty("label").GetString());
        }

        foreach (var row in TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "sibling.jsonl")))
        {
            Assert.Equal(["instruction", "n", "topic"], row.EnumerateObject().Select(p => p.Name));
        }
    }

    [Fact]
    public async Task Cached_batches_of_mapped_steps_hold_the_row_names_and_a_rerun_writes_the_same_output()
    {
        _ws.WritePrompts(10);
        var log = new TestSteps.CallLog();
        var definition = Define(log);
        await _ws.RunAsync(definition);
        var first = File.ReadAllText(Path.Combine(_ws.Outputs, "out.jsonl"));
        var calls = log.Calls;

        foreach (var file in Directory.GetFiles(_ws.StepCache("mapped", "seen"), "*.jsonl"))
        {
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                Assert.Contains("instruction", line, StringComparison.Ordinal);
                Assert.DoesNotContain("question", line, StringComparison.Ordinal);
            }
        }

        var manifest = await _ws.RunAsync(definition);

        Assert.Equal(calls, log.Calls);
        Assert.Equal(3, manifest.Steps.Single(s => s.Name == "seen").CachedBatches);
        Assert.Equal(3, manifest.Steps.Single(s => s.Name == "tagged").CachedBatches);
        Assert.Equal(first, File.ReadAllText(Path.Combine(_ws.Outputs, "out.jsonl")));
    }

    [Fact]
    public void A_view_reads_and_writes_through_the_mappings_and_leaves_the_row_names_alone()
    {
        _ws.WritePrompts(1);
        var definition = Define(new TestSteps.CallLog());
        var input = ColumnView.For(definition.Steps[1])!;
        var output = ColumnView.For(definition.Steps[2])!;
        Assert.Null(ColumnView.For(definition.Steps[3]));
        var row = new Row(7, [new("instruction", "x"), new("n", 7L)]);

        var seen = row.ViewAs(input);
        Assert.Equal("x", seen["question"]);
        Assert.False(seen.Has("instruction"));
        Assert.Equal(["question", "n"], seen.Columns);
        Assert.Equal(["question", "n"], seen.Values.Keys);
        seen["question"] = "y";
        Assert.Equal(["instruction", "n"], row.Columns);
        Assert.Equal("y", row["instruction"]);

        var tagged = row.ViewAs(output);
        Assert.False(tagged.Has("tag"));
        tagged["tag"] = "t:7";
        Assert.Equal("t:7", tagged["tag"]);
        Assert.Equal(["instruction", "n", "tag"], tagged.Columns);
        Assert.Equal(["instruction", "n", "label"], row.Columns);
        Assert.Equal("t:7", row["label"]);
        Assert.Same(row.Values["label"], ColumnMappings.FromStep(definition.Steps[2], output, tagged.Clone())["label"]);
    }
}

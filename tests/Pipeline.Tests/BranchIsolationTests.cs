namespace Distil.Pipeline.Tests;

/// <summary>
/// A step whose output feeds two branches hands each branch rows of its own: what one branch writes into its rows
/// never shows in the other's, whatever the timing.
/// </summary>
public sealed class BranchIsolationTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Columns_written_on_one_branch_never_reach_its_sibling()
    {
        // One source chunk (256 rows) is cut into single-row batches for the first branch, whose inbox holds only two
        // (BufferedRows 2), so the source cannot finish handing the chunk to it until that branch has tagged most of
        // those rows. A sibling whose copies were taken after the first branch got the chunk would see the tags.
        _ws.WritePrompts(300);
        var definition = _ws.Define("""
            {
              "name": "branches",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "tagged", "type": "tag", "label": "t", "after": ["load"], "input_batch_size": 1 },
                { "name": "sibling", "type": "record", "needs": ["instruction"], "after": ["load"] },
                { "name": "out", "type": "write_jsonl", "path": "out.jsonl", "after": ["tagged"] },
                { "name": "out_sibling", "type": "write_jsonl", "path": "sibling.jsonl", "after": ["sibling"] }
              ]
            }
            """, TestSteps.Registry());

        await _ws.RunAsync(definition, _ws.Options() with { BufferedRows = 2 });

        var tagged = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
        var sibling = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "sibling.jsonl"));
        Assert.Equal(300, tagged.Count);
        Assert.All(tagged, row => Assert.Equal($"t:{row.GetProperty("n").GetInt32()}", row.GetProperty("tag").GetString()));
        Assert.Equal(300, sibling.Count);
        Assert.All(sibling, row => Assert.Equal(["instruction", "n", "topic"], row.EnumerateObject().Select(p => p.Name)));
    }
}

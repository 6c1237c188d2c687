namespace Distil.Pipeline.Tests;

/// <summary>
/// A run's data files and dataset card reach the output folder together or not at all (staging folder,
/// then one atomic exchange), so a failed run leaves the previous output untouched and consistent.
/// </summary>
public sealed class OutputPublicationTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private const string Definition = """
        {
          "name": "published",
          "steps": [
            { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
            { "name": "out", "type": "write_parquet", "after": ["load"], "path": "data.parquet", "row_group_size": 100 },
            { "name": "card", "type": "dataset_card", "after": ["load"], "data_files": ["data.parquet"] }
          ]
        }
        """;

    [Fact]
    public async Task Failed_write_leaves_the_previous_output_untouched_and_consistent()
    {
        _ws.WritePrompts(300);
        _ws.Write("pipeline.json", Definition);
        _ws.Write("out/notes.txt", "kept: the run does not write this file");

        var first = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out");
        Assert.True(first.ExitCode == 0, first.Stderr);
        var before = Snapshot();
        Assert.Equal(["README.md", "data.parquet", "notes.txt"], before.Keys);
        Assert.Equal(300, (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "data.parquet"))).Count);
        Assert.Contains("300", File.ReadAllText(Path.Combine(_ws.Outputs, "README.md")));

        // Row 250 gains a column the first row group did not have: the Parquet writer fails after the card
        // (a separate sink) has finished its own file.
        var lines = File.ReadAllLines(_ws.WritePrompts(400));
        lines[250] = lines[250].TrimEnd('}') + ",\"extra\":1}";
        _ws.Write("data/prompts.jsonl", string.Join("\n", lines) + "\n");
        var failed = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out");
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("extra", failed.Stderr);

        var after = Snapshot();
        Assert.Equal(before.Keys, after.Keys);
        foreach (var (file, bytes) in before)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(after[file]), $"{file} changed although the run failed");
        }

        Assert.Empty(Directory.GetFileSystemEntries(_ws.Root, ".out*"));
        Assert.Empty(Directory.GetFiles(_ws.Root, "*.partial", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(_ws.Root, "*.tmp", SearchOption.AllDirectories));

        // Fixed input: both files change together and the unrelated file survives the swap.
        lines[250] = lines[249];
        _ws.Write("data/prompts.jsonl", string.Join("\n", lines) + "\n");
        var fixedRun = await DistilProcess.RunAsync(_ws.Root, "run", "pipeline.json", "--runs", "runs", "--output", "out");
        Assert.True(fixedRun.ExitCode == 0, fixedRun.Stderr);
        Assert.Equal(400, (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "data.parquet"))).Count);
        Assert.Contains("400", File.ReadAllText(Path.Combine(_ws.Outputs, "README.md")));
        Assert.Equal("kept: the run does not write this file", File.ReadAllText(Path.Combine(_ws.Outputs, "notes.txt")));
        Assert.Empty(Directory.GetFileSystemEntries(_ws.Root, ".out*"));
    }

    private SortedDictionary<string, byte[]> Snapshot() => new(
        Directory.GetFiles(_ws.Outputs, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(_ws.Outputs, f), File.ReadAllBytes),
        StringComparer.Ordinal);
}

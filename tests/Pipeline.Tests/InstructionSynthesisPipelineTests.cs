using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>
/// pipelines/instruction-synthesis.json as shipped, through the real CLI on its tiny local model: self_instruct and
/// evol_instruct each write their Parquet file, read back by DuckDB, and a rerun takes both model steps from the cache.
/// </summary>
public sealed class InstructionSynthesisPipelineTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Self_instruct_and_evol_instruct_write_their_rows_and_a_rerun_is_served_from_the_step_cache()
    {
        var shipped = Path.Combine(TestRepository.Root, "pipelines");
        var pipeline = _ws.Write("pipelines/instruction-synthesis.json", File.ReadAllText(Path.Combine(shipped, "instruction-synthesis.json")));
        _ws.LinkPresetModels(pipeline);
        var seeds = File.ReadAllLines(Path.Combine(shipped, "data", "prompts-mini.jsonl")).Where(l => l.Length > 0).Take(4).ToList();
        _ws.Write("pipelines/data/prompts-mini.jsonl", string.Join("\n", seeds) + "\n");

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", pipeline, "--limit", "4", "--runs", "runs", "--output", "out");

        Assert.True(code == 0, stdout + stderr);
        var manifest = RunManifest.Read(Directory.GetFiles(_ws.Runs, RunManifest.FileName, SearchOption.AllDirectories).Single());
        Assert.Equal(4, manifest.Steps.Single(s => s.Name == "more_tasks").RowsIn);
        Assert.Equal(4, manifest.Steps.Single(s => s.Name == "evolve").RowsOut);

        // DuckDB writes 64-bit integers as JSON strings, so counts are cast to INTEGER in the queries.
        var seedTexts = seeds.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("instruction").GetString()).ToHashSet();
        var tasks = await DuckDb.QueryAsync($"SELECT instruction, len(instructions)::INTEGER AS n, instructions_parsed::INTEGER AS parsed FROM '{Quoted("self_instruct.parquet")}'");
        var writtenTasks = manifest.Steps.Single(s => s.Name == "write_tasks").RowsOut;
        Assert.Equal(writtenTasks, tasks.GetArrayLength());
        Assert.All(tasks.EnumerateArray(), row =>
        {
            Assert.Contains(row.GetProperty("instruction").GetString(), seedTexts);
            Assert.InRange(row.GetProperty("n").GetInt32(), 1, 3);
            Assert.Equal(row.GetProperty("n").GetInt32(), row.GetProperty("parsed").GetInt32());
        });

        var evolved = await DuckDb.QueryAsync(
            $"SELECT instruction, evolved_instruction, len(evolution_operations)::INTEGER AS ops, len(evolution_outcomes)::INTEGER AS outcomes, evolutions_kept::INTEGER AS kept, to_json(evolution_outcomes) AS why FROM '{Quoted("evolved.parquet")}'");
        Assert.Equal(4, evolved.GetArrayLength());
        Assert.All(evolved.EnumerateArray(), row =>
        {
            Assert.Contains(row.GetProperty("instruction").GetString(), seedTexts);
            Assert.Equal(2, row.GetProperty("ops").GetInt32());
            Assert.Equal(2, row.GetProperty("outcomes").GetInt32());
            Assert.InRange(row.GetProperty("kept").GetInt32(), 0, 2);
            Assert.False(string.IsNullOrWhiteSpace(row.GetProperty("evolved_instruction").GetString()));
        });

        var again = await DistilProcess.RunAsync(_ws.Root, "run", pipeline, "--limit", "4", "--runs", "runs", "--output", "out2");
        Assert.True(again.ExitCode == 0, again.Stdout + again.Stderr);
        Assert.Contains("more_tasks: 4 in, 4 out, 0 errors, 1 batches from cache, 0 computed", again.Stdout);
        Assert.Contains("evolve: 4 in, 4 out, 0 errors, 1 batches from cache, 0 computed", again.Stdout);
    }

    private string Quoted(string file) => Path.Combine(_ws.Outputs, file).Replace("'", "''", StringComparison.Ordinal);
}

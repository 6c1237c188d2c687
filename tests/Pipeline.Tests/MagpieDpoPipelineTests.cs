using Parquet;
using Parquet.Serialization;

namespace Distil.Pipeline.Tests;

/// <summary>
/// The shipped pipelines/magpie-dpo.json, unchanged, through the real CLI: its three tiny models are built on first
/// use, magpie writes the instructions from nothing, and a second run reads every model batch, magpie's included, from
/// the step cache.
/// </summary>
public sealed class MagpieDpoPipelineTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Makes_dpo_pairs_from_nothing_but_models_and_a_rerun_is_served_from_the_step_cache()
    {
        var pipeline = _ws.Write("pipelines/magpie-dpo.json", File.ReadAllText(TestRepository.File("pipelines/magpie-dpo.json")));

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", pipeline, "--limit", "4", "--runs", "runs", "--output", "out");

        Assert.True(code == 0, stdout + stderr);
        Assert.True(File.Exists(Path.Combine(_ws.Root, "models", "tiny-a", "config.json")), "the writer model is built beside the pipeline folder");
        var manifest = RunManifest.Read(Directory.GetFiles(_ws.Runs, RunManifest.FileName, SearchOption.AllDirectories).Single());
        Assert.Equal(4, manifest.Steps.Single(s => s.Name == "magpie").RowsOut);
        Assert.Equal(0, manifest.Steps.Single(s => s.Name == "magpie").Errors);
        Assert.Equal(4, manifest.Steps.Single(s => s.Name == "judge").RowsOut);
        var pairs = manifest.Steps.Single(s => s.Name == "pairs");
        Assert.Equal(4, pairs.RowsOut + pairs.Dropped.Values.Sum());

        await using (var stream = File.OpenRead(Path.Combine(_ws.Outputs, "data.parquet")))
        {
            var data = (await ParquetSerializer.DeserializeUntypedAsync(stream, new ParquetOptions())).Data;
            Assert.Equal(pairs.RowsOut, data.Count);
            Assert.All(data, row =>
            {
                var prompt = ((System.Collections.IEnumerable)row["prompt"]).Cast<IDictionary<string, object>>().Single();
                Assert.Equal("user", prompt["role"]?.ToString());
                Assert.False(string.IsNullOrWhiteSpace(prompt["content"]?.ToString()), "magpie wrote the instruction");
            });
        }

        var again = await DistilProcess.RunAsync(_ws.Root, "run", pipeline, "--limit", "4", "--runs", "runs", "--output", "out2");
        Assert.True(again.ExitCode == 0, again.Stdout + again.Stderr);
        Assert.Contains("magpie: 4 in, 4 out, 0 errors, 1 batches from cache, 0 computed", again.Stdout);
        Assert.Contains("answer: 4 in, 4 out, 0 errors, 1 batches from cache, 0 computed", again.Stdout);
        Assert.Contains("judge: 4 in, 4 out, 0 errors, 1 batches from cache, 0 computed", again.Stdout);
    }

    [Fact]
    public async Task The_step_catalogue_lists_the_instruction_synthesis_steps()
    {
        var (code, stdout, _) = await DistilProcess.RunAsync(_ws.Root, "steps");
        Assert.Equal(0, code);
        Assert.Contains("magpie", stdout);
        Assert.Contains("self_instruct", stdout);
        Assert.Contains("evol_instruct", stdout);
    }
}

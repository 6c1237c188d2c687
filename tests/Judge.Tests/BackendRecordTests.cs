using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Judge.Tests;

/// <summary>
/// Which backend answered: the model id a server reports and its <c>system_fingerprint</c>, counted per step in the
/// manifest and per batch in the step cache, so a backend swapped behind the same model name during a run shows up.
/// </summary>
public class BackendRecordTests
{
    [Fact]
    public async Task A_fingerprint_that_changes_mid_run_shows_as_two_backends_and_survives_the_step_cache()
    {
        // 24 rows, two generators (48 requests) then the judge (24): the backend changes during the generators.
        await using var server = ServedPipeline.Server(systemFingerprint: n => n <= 20 ? "fp_old" : "fp_new");
        var folder = Path.Combine(Path.GetTempPath(), "distil-backends-" + Guid.NewGuid().ToString("N")[..8]);
        var definitionPath = ServedPipeline.Write(folder, server, rows: 24);
        var options = new RunOptions { RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = Path.Combine(folder, "out"), Models = new ModelCatalog() };

        var manifest = await new PipelineRunner().RunAsync(PipelineDefinition.Load(definitionPath, BuiltInSteps.CreateRegistry()), options, default);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        var generators = manifest.Steps.Where(s => s.Name is "gen_a" or "gen_b").SelectMany(s => s.Backends).ToList();
        Assert.Equal(48, generators.Sum(b => b.Value));
        Assert.Contains(generators, b => b.Key.EndsWith("[fp_old]", StringComparison.Ordinal));
        Assert.Contains(generators, b => b.Key.EndsWith("[fp_new]", StringComparison.Ordinal));
        Assert.All(manifest.Steps.Single(s => s.Name == "gen_a").Backends.Keys, k => Assert.StartsWith("gen-a-served [", k));
        Assert.Equal(new Dictionary<string, long> { ["judge-served [fp_new]"] = 24 }, manifest.Steps.Single(s => s.Name == "judge").Backends);
        Assert.Empty(manifest.Steps.Single(s => s.Name == "pairs").Backends);

        var saved = RunManifest.Read(Path.Combine(manifest.RunDirectory, RunManifest.FileName));
        Assert.Equal(manifest.Steps.Select(s => s.Backends.OrderBy(b => b.Key).ToList()), saved.Steps.Select(s => s.Backends.OrderBy(b => b.Key).ToList()));

        // Everything from the cache: no request is sent, and the batches still say who answered them.
        var requests = server.Requests;
        var again = await new PipelineRunner().RunAsync(PipelineDefinition.Load(definitionPath, BuiltInSteps.CreateRegistry()), options, default);
        Assert.Equal(requests, server.Requests);
        Assert.Equal(manifest.Steps.Select(s => s.Backends.OrderBy(b => b.Key).ToList()), again.Steps.Select(s => s.Backends.OrderBy(b => b.Key).ToList()));
        Directory.Delete(folder, recursive: true);
    }
}

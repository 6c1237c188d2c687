using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distil.Pipeline.Tests;

/// <summary>
/// The same definition and seeds give a byte-identical Parquet whatever the batching: the shipped seed pipeline
/// (two generators and a judge, all sampling) through the real CLI at <c>max_batch_size</c> 1, 8 and 32, and at 8
/// killed with SIGKILL once its first generated batch is cached, then resumed. The presets are built with
/// GroupQueryAttention, whose rows reduce over their own tokens only, so no <c>"deterministic"</c> switch is needed.
/// </summary>
public sealed class BatchInvarianceTests : IDisposable
{
    private const int Prompts = 24;
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Seed_pipeline_with_sampling_writes_the_same_bytes_at_batch_1_8_32_and_after_kill_and_resume()
    {
        var reference = await RunAsync("b1", maxBatch: 1);
        var rows = (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Root, "out-b1", "data.parquet"))).Count;
        Assert.True(rows > 5, $"the reference run kept only {rows} pairs; the comparison would say little");

        foreach (var batch in new[] { 8, 32 })
        {
            var bytes = await RunAsync($"b{batch}", batch);
            Assert.True(reference.AsSpan().SequenceEqual(bytes), $"max_batch_size {batch} wrote other bytes than max_batch_size 1");
        }

        var killed = WriteDefinition("killed", maxBatch: 8);
        // Killed once the first generated batch is cached: a second generator batch and every judgement are still to come.
        var generatedCache = _ws.StepCache("ultrafeedback-dpo", "gen_a", "runs-killed");
        using (var run = DistilProcess.Start(_ws.Root, "run", killed, "--limit", $"{Prompts}", "--runs", "runs-killed", "--output", "out-killed"))
        {
            await Eventually.WaitUntilAsync(() => run.HasExited || (Directory.Exists(generatedCache) && Directory.GetFiles(generatedCache, "*.jsonl").Length > 0), "a generated batch in the step cache", TimeSpan.FromMinutes(4));
            Assert.False(run.HasExited, "the run finished before it could be killed");
            run.Kill();
            await run.WaitAsync();
        }

        Assert.False(File.Exists(Path.Combine(_ws.Root, "out-killed", "data.parquet")), "a killed run must not have published its output");
        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", killed, "--limit", $"{Prompts}", "--runs", "runs-killed", "--output", "out-killed");
        Assert.True(code == 0, stderr + stdout);
        var resumed = await File.ReadAllBytesAsync(Path.Combine(_ws.Root, "out-killed", "data.parquet"));
        Assert.True(reference.AsSpan().SequenceEqual(resumed), "max_batch_size 8, killed and resumed, wrote other bytes than an uninterrupted run at max_batch_size 1");
    }

    private async Task<byte[]> RunAsync(string label, int maxBatch)
    {
        var definition = WriteDefinition(label, maxBatch);
        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", definition, "--limit", $"{Prompts}", "--runs", $"runs-{label}", "--output", $"out-{label}");
        Assert.True(code == 0, stderr + stdout);
        return await File.ReadAllBytesAsync(Path.Combine(_ws.Root, $"out-{label}", "data.parquet"));
    }

    /// <summary>The shipped pipeline with every model's <c>max_batch_size</c> set; models are the shared builds of
    /// the test run, linked into the workspace (each run has its own runs folder, so nothing is reused from a cache).</summary>
    private string WriteDefinition(string label, int maxBatch)
    {
        var shipped = TestRepository.File("pipelines/ultrafeedback-dpo.json");
        var definition = JsonNode.Parse(File.ReadAllText(shipped), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        foreach (var (name, model) in definition["models"]!.AsObject())
        {
            model!["path"] = Path.Combine(_ws.Root, "models", name);
            model["max_batch_size"] = maxBatch;
        }

        foreach (var step in definition["steps"]!.AsArray())
        {
            if (step!["type"]!.GetValue<string>() == "load_jsonl")
            {
                step["path"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(shipped)!, step["path"]!.GetValue<string>()));
            }
        }

        var path = _ws.Write($"{label}.json", definition.ToJsonString());
        _ws.LinkPresetModels(path);
        return path;
    }
}

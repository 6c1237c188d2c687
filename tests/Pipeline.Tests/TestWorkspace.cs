using System.Text.Json;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using Parquet;
using Parquet.Serialization;

namespace Distil.Pipeline.Tests;

/// <summary>A temporary folder holding a definition, its data, its run directories and outputs.</summary>
public sealed class TestWorkspace : IDisposable
{
    public TestWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), "distil-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Runs => Path.Combine(Root, "runs");

    public string Outputs => Path.Combine(Root, "out");

    /// <summary>Where a caching step's batches are kept (runs/.cache/&lt;pipeline&gt;/&lt;step&gt;).</summary>
    public string StepCache(string pipeline, string step, string runs = "runs") => Path.Combine(Root, runs, ".cache", pipeline, step);

    public string Write(string relative, string content)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Writes <paramref name="count"/> prompts as JSONL: {"instruction": "prompt i", "n": i, "topic": …}.</summary>
    public string WritePrompts(int count, string relative = "data/prompts.jsonl", int duplicateEvery = 0)
    {
        var lines = Enumerable.Range(0, count).Select(i =>
        {
            var text = duplicateEvery > 0 && i % duplicateEvery == duplicateEvery - 1 ? $"prompt {i - 1}" : $"prompt {i}";
            return JsonSerializer.Serialize(new { instruction = text, n = i, topic = i % 3 == 0 ? "science" : "poetry" });
        });
        return Write(relative, string.Join("\n", lines) + "\n");
    }

    public PipelineDefinition Define(string json, StepRegistry? registry = null) =>
        PipelineDefinition.Parse(json, Write("pipeline.json", json), registry ?? BuiltInSteps.CreateRegistry());

    public RunOptions Options(bool fresh = false, SourceRange? range = null) => new()
    {
        RunsRoot = Runs,
        OutputDirectory = Outputs,
        Fresh = fresh,
        Range = range ?? SourceRange.All,
    };

    public Task<RunManifest> RunAsync(PipelineDefinition definition, RunOptions? options = null, CancellationToken cancellationToken = default) =>
        new PipelineRunner().RunAsync(definition, options ?? Options(), cancellationToken);

    public static async Task<List<Dictionary<string, object>>> ReadParquetAsync(string path)
    {
        var rows = new List<Dictionary<string, object>>();
        await using var stream = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(stream);
        var groups = reader.RowGroupCount;
        for (var g = 0; g < groups; g++)
        {
            stream.Position = 0;
            await using var again = File.OpenRead(path);
            var data = await ParquetSerializer.DeserializeUntypedAsync(again, new ParquetOptions(), g);
            rows.AddRange(data.Data);
        }

        return rows;
    }

    public static List<JsonElement> ReadJsonl(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still hold a file for a moment; the temp folder is cleaned by the OS.
        }
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using Parquet;
using Parquet.Serialization;

namespace Distil.Testing;

/// <summary>
/// A temporary folder holding definitions (pipelines/), their data (data/), run directories and outputs; removed
/// when the test ends.
/// </summary>
public sealed class TestWorkspace : IDisposable
{
    private readonly TempFolder _folder = new("distil-tests");

    public TestWorkspace()
    {
        Directory.CreateDirectory(Path.Combine(Root, "data"));
        Directory.CreateDirectory(Path.Combine(Root, "pipelines"));
    }

    public string Root => _folder.Path;

    public string Runs => Path.Combine(Root, "runs");

    public string Outputs => Path.Combine(Root, "out");

    /// <summary>A scratch folder per process, as if each ran on its own machine.</summary>
    public string WorkDirectory(string process) => Path.Combine(Root, "work", process);

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

    /// <summary>
    /// Makes the models a definition builds on first use (<c>"build": {"preset", "seed"}</c>) symbolic links to the
    /// run's <see cref="SharedModels"/>, for a test about what a pipeline does rather than about building models.
    /// The run then finds them built, as it would on its second use.
    /// </summary>
    public void LinkPresetModels(string definition)
    {
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        using var document = JsonDocument.Parse(File.ReadAllText(definition), options);
        if (!document.RootElement.TryGetProperty("models", out var models))
        {
            return;
        }

        foreach (var model in models.EnumerateObject())
        {
            if (model.Value.TryGetProperty("build", out var build) && model.Value.TryGetProperty("path", out var path))
            {
                var seed = build.TryGetProperty("seed", out var s) ? s.GetUInt64() : 0;
                var link = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(definition))!, path.GetString()!));
                if (!link.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                {
                    // A shipped definition read in place would point at the checkout's own models/ folder.
                    throw new InvalidOperationException($"{definition}: model '{model.Name}' at {link} is outside the workspace; write the definition into it first");
                }

                if (!Directory.Exists(link))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(link)!);
                    Directory.CreateSymbolicLink(link, SharedModels.Preset(build.GetProperty("preset").GetString()!, seed));
                }
            }
        }
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

    /// <summary>
    /// Writes <paramref name="rows"/> prompts to data/&lt;name&gt;.jsonl and a pipeline over them: load_jsonl →
    /// pass_through → keep_columns → write_parquet. <paramref name="delayMs"/> per batch of
    /// <paramref name="batchSize"/> rows makes shards last long enough to be interrupted.
    /// </summary>
    public string Pipeline(string name, int rows, int delayMs = 0, int batchSize = 10, string? schedule = null, string folder = "pipelines")
    {
        var text = new StringBuilder();
        for (var i = 0; i < rows; i++)
        {
            text.Append(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["instruction"] = $"Explain idea number {i} in one sentence.",
                ["n"] = i,
                ["chosen_rating"] = i % 5 + 1,
                ["topic"] = i % 3 == 0 ? "science" : "history",
            })).Append('\n');
        }

        Write(Path.Combine("data", $"{name}.jsonl"), text.ToString());
        var definition = $$"""
            // test pipeline {{name}}
            {
              "name": "{{name}}",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/{{name}}.jsonl" },
                { "name": "pace", "type": "pass_through", "delay_ms": {{delayMs.ToString(CultureInfo.InvariantCulture)}}, "input_batch_size": {{batchSize.ToString(CultureInfo.InvariantCulture)}} },
                { "name": "keep", "type": "keep_columns", "columns": ["n", "instruction", "chosen_rating", "topic"] },
                { "name": "write", "type": "write_parquet", "path": "rows.parquet" },
              ],
              {{(schedule is null ? "" : $"\"schedule\": {{ \"cron\": \"{schedule}\" }},")}}
            }
            """;
        return Write(Path.Combine(folder, $"{name}.json"), definition);
    }

    public void Dispose() => _folder.Dispose();
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>A temp folder with prompts and small pipelines: JSONL → pass_through (optionally slow) → write_parquet.</summary>
public sealed class TestWorkspace : IDisposable
{
    public TestWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), $"distil-server-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(Root, "data"));
        Directory.CreateDirectory(Path.Combine(Root, "pipelines"));
    }

    public string Root { get; }

    public string Outputs => Path.Combine(Root, "outputs");

    /// <summary>A scratch folder per process, as if each ran on its own machine.</summary>
    public string WorkDirectory(string process) => Path.Combine(Root, "work", process);

    /// <summary>
    /// Writes <paramref name="rows"/> prompts and a pipeline over them. <paramref name="delayMs"/> per batch of
    /// <paramref name="batchSize"/> rows makes shards last long enough to be interrupted.
    /// </summary>
    public string Pipeline(string name, int rows, int delayMs = 0, int batchSize = 10, string? schedule = null, string folder = "pipelines")
    {
        var data = Path.Combine(Root, "data", $"{name}.jsonl");
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

        File.WriteAllText(data, text.ToString());
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
        var path = Path.Combine(Root, folder, $"{name}.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, definition);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A killed process may still hold a file for a moment; the OS cleans temp eventually.
        }
    }
}

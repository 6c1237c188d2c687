using System.Text.Json;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Distil.Hub.Tests;

/// <summary>
/// Prompt datasets in the schema of argilla/10Kprompts-mini (<c>instruction</c>, <c>topic</c>) as Parquet bytes
/// for the loopback hub, and pipelines that read them with load_hub.
/// </summary>
internal static class HubPromptSets
{
    public const string CardConfigs = """
        [ { "config_name": "default", "default": true,
            "data_files": [ { "split": "train", "path": "data/train-*" }, { "split": "test", "path": "data/test-*" } ] } ]
        """;

    private static readonly ParquetSchema Schema = new(new DataField<string>("instruction"), new DataField<string>("topic"), new DataField<long?>("n"));

    private static readonly string[] Topics = ["Math", "Software Development", "Health and Fitness", "Travel"];

    /// <summary>Rows <paramref name="first"/>… as Parquet in row groups of <paramref name="rowGroupSize"/>; some topics and numbers are null.</summary>
    public static byte[] Parquet(int first, int rows, int rowGroupSize = 4)
    {
        var all = Enumerable.Range(first, rows).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["instruction"] = $"Question {i}: explain idea number {i * 7 % 31} in one sentence.",
            ["topic"] = i % 5 == 3 ? null : Topics[i % Topics.Length],
            ["n"] = i % 6 == 1 ? null : (long?)i,
        }).ToList();
        using var stream = new MemoryStream();
        ParquetSerializer.SerializeUntypedAsync(all, Schema, stream, new ParquetOptions { RowGroupSize = rowGroupSize }).GetAwaiter().GetResult();
        return stream.ToArray();
    }

    /// <summary>A train split of <paramref name="files"/> files × <paramref name="rowsPerFile"/> rows and a one-file test split, with a card that maps them.</summary>
    public static Dictionary<string, byte[]> TrainAndTest(int files = 2, int rowsPerFile = 10)
    {
        var content = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["README.md"] = "---\nlicense: apache-2.0\n---\n# prompts\n"u8.ToArray(),
            ["data/test-00000-of-00001.parquet"] = Parquet(1000, 3),
        };
        for (var f = 0; f < files; f++)
        {
            content[$"data/train-{f:D5}-of-{files:D5}.parquet"] = Parquet(f * rowsPerFile, rowsPerFile);
        }

        return content;
    }

    /// <summary>A load_hub → write_jsonl pipeline in <paramref name="folder"/>; <paramref name="loadHub"/> holds the step's extra keys.</summary>
    public static PipelineDefinition Pipeline(string folder, string loadHub, HubSourceSettings settings)
    {
        var json = $$"""
            { "name": "from-hub",
              "steps": [
                { "name": "load", "type": "load_hub", {{loadHub}} },
                { "name": "write", "type": "write_jsonl", "after": ["load"], "path": "rows.jsonl" } ] }
            """;
        var file = Path.Combine(folder, "from-hub.json");
        File.WriteAllText(file, json);
        return PipelineDefinition.Parse(json, file, BuiltInSteps.CreateRegistry(settings));
    }

    public static HubSourceSettings Settings(TestHub hub, params (string Name, string Value)[] environment) => new()
    {
        Endpoint = hub.Server.Endpoint,
        CacheDirectory = Path.Combine(hub.Folder, "cache"),
        Retry = new HubRetryPolicy(4, TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(2)),
        Logger = hub.Log,
        // No token unless the test gives one: HF_HOME points at an empty folder so no token file is found either.
        Environment = name => environment.FirstOrDefault(e => e.Name == name).Value ?? (name == "HF_HOME" ? Path.Combine(hub.Folder, "hf-home") : null),
    };

    public static async Task<(RunManifest Manifest, List<JsonElement> Rows)> RunAsync(TestHub hub, PipelineDefinition definition, SourceRange? range = null, bool fresh = false)
    {
        var output = Path.Combine(hub.Folder, "out");
        var manifest = await new PipelineRunner().RunAsync(
            definition,
            new RunOptions { Range = range ?? SourceRange.All, RunsRoot = Path.Combine(hub.Folder, "runs"), OutputDirectory = output, Fresh = fresh },
            CancellationToken.None);
        var rows = File.ReadLines(Path.Combine(output, "rows.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        return (manifest, rows);
    }
}

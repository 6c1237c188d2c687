using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Distil.Hub.Tests;

/// <summary>Run folders with real Parquet (TRL preference columns, chat messages as list of structs) for the tests.</summary>
internal static class TestDatasets
{
    public static readonly ParquetSchema PreferenceSchema = new(
        new DataField<string>("prompt"),
        new ListField("chosen", new StructField("element", new DataField<string>("role"), new DataField<string>("content"))),
        new ListField("rejected", new StructField("element", new DataField<string>("role"), new DataField<string>("content"))),
        new DataField<double?>("score_chosen"),
        new DataField<long>("row_id"));

    /// <summary>Writes <paramref name="rows"/> preference rows in row groups of <paramref name="rowGroupSize"/>; text is random so the file does not compress away.</summary>
    public static async Task WritePreferenceParquetAsync(string path, int rows, int rowGroupSize, int seed = 1, int textLength = 40)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var random = new Random(seed);
        string Text() => Convert.ToHexString(Enumerable.Range(0, textLength / 2).Select(_ => (byte)random.Next(256)).ToArray());
        var all = new List<IDictionary<string, object?>>();
        for (var i = 0; i < rows; i++)
        {
            var prompt = Text();
            all.Add(new Dictionary<string, object?>
            {
                ["prompt"] = i % 17 == 5 ? null : prompt,
                ["chosen"] = Messages(prompt, Text()),
                ["rejected"] = i % 11 == 3 ? new List<IDictionary<string, object?>>() : Messages(prompt, Text()),
                ["score_chosen"] = i % 13 == 7 ? null : (double?)(i % 5),
                ["row_id"] = (long)i,
            });
        }

        var options = new ParquetOptions { RowGroupSize = rowGroupSize };
        await using var stream = File.Create(path);
        await ParquetSerializer.SerializeUntypedAsync(all, PreferenceSchema, stream, options);
    }

    private static List<IDictionary<string, object?>> Messages(string prompt, string answer) =>
    [
        new Dictionary<string, object?> { ["role"] = "user", ["content"] = prompt },
        new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = answer },
    ];

    public static async Task WriteOtherParquetAsync(string path, int rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var schema = new ParquetSchema(new DataField<string>("instruction"), new DataField<long>("row_id"));
        var all = Enumerable.Range(0, rows)
            .Select(i => (IDictionary<string, object?>)new Dictionary<string, object?> { ["instruction"] = $"say {i}", ["row_id"] = (long)i })
            .ToList();
        await using var stream = File.Create(path);
        await ParquetSerializer.SerializeUntypedAsync(all, schema, stream);
    }

    /// <summary>A run folder like the runner leaves: manifest.json, output/dpo.parquet, output/README.md, pipeline.json.</summary>
    public static async Task<string> CreateRunFolderAsync(string root, int rows = 50, int rowGroupSize = 1000, string? card = DefaultCard, int textLength = 40)
    {
        var run = Path.Combine(root, "runs", "ultrafeedback-dpo", "abc123");
        var parquet = Path.Combine(run, "output", "dpo.parquet");
        await WritePreferenceParquetAsync(parquet, rows, rowGroupSize, textLength: textLength);
        if (card is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(run, "output", "README.md"), card);
        }

        await File.WriteAllTextAsync(Path.Combine(run, "pipeline.json"), PipelineJson);
        await File.WriteAllTextAsync(
            Path.Combine(run, "manifest.json"),
            """{ "pipeline": "ultrafeedback-dpo", "fingerprint": "abc123", "output_files": ["output/dpo.parquet"], "status": "succeeded" }""");
        return run;
    }

    public const string PipelineJson = """{ "name": "ultrafeedback-dpo", "steps": [ { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" } ] }""";

    public const string DefaultCard = """
        ---
        license: apache-2.0
        configs:
        - config_name: default
          data_files:
          - split: train
            path: dpo.parquet
        tags:
        - synthetic
        size_categories:
        - n<1K
        ---

        # UltraFeedback DPO

        Pairs rated by an LLM judge.

        """;
}

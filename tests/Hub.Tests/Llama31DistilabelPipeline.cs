using System.Text.Json;
using DuckDB.NET.Data;
using Distil.Pipeline;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Distil.Hub.Tests;

/// <summary>
/// The shipped pipelines/llama31-distilabel.json, unchanged, run offline through the command line against the
/// loopback hub serving argilla/10Kprompts-mini's schema (instruction, topic) with the prompts of pipelines/data.
/// </summary>
public sealed class Llama31DistilabelPipeline
{
    [Fact]
    public async Task Runs_offline_against_the_loopback_hub_and_writes_dpo_pairs_from_the_hub_prompts()
    {
        await using var hub = await TestHub.StartAsync();
        var prompts = File.ReadLines(TestRepository.File("pipelines/data/prompts-mini.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (IDictionary<string, object?>)new Dictionary<string, object?> { ["instruction"] = e.GetProperty("instruction").GetString(), ["topic"] = e.GetProperty("topic").GetString() })
            .ToList();
        using var parquet = new MemoryStream();
        await ParquetSerializer.SerializeUntypedAsync(prompts, new ParquetSchema(new DataField<string>("instruction"), new DataField<string>("topic")), parquet);
        var sha = hub.Server.AddDataset(
            "argilla/10Kprompts-mini",
            new Dictionary<string, byte[]> { ["data/train-00000-of-00001.parquet"] = parquet.ToArray() },
            cardConfigs: """[ { "config_name": "default", "data_files": [ { "split": "train", "path": "data/train-*" } ] } ]""");
        var pipeline = Path.Combine(hub.Folder, "pipelines", "llama31-distilabel.json");
        Directory.CreateDirectory(Path.GetDirectoryName(pipeline)!);
        File.Copy(TestRepository.File("pipelines/llama31-distilabel.json"), pipeline);
        var output = Path.Combine(hub.Folder, "out");

        var (exit, stdout, stderr) = await hub.RunCliAsync(
            "run", pipeline, "--hub-endpoint", hub.Server.Endpoint, "--limit", "4",
            "--hub-cache", Path.Combine(hub.Folder, "cache"), "--runs", Path.Combine(hub.Folder, "runs"), "-o", output);

        Assert.True(exit == 0, stdout + stderr);
        var manifest = RunManifest.Read(Directory.GetFiles(Path.Combine(hub.Folder, "runs"), RunManifest.FileName, SearchOption.AllDirectories).Single());
        Assert.Equal($"hf://datasets/argilla/10Kprompts-mini@{sha}/default/train", manifest.Source);
        Assert.Equal(4, manifest.Steps.Single(s => s.Name == "ultrafeedback").RowsOut);
        var pairs = manifest.Steps.Single(s => s.Name == "preference_pairs");
        Assert.Equal(4, pairs.RowsOut + pairs.Dropped.Values.Sum());

        // The pairs' prompts, read back by DuckDB, are the first Hub rows' instructions.
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT prompt[1].content, topic FROM read_parquet('{Path.Combine(output, "data.parquet")}')";
        using var reader = command.ExecuteReader();
        var firstFour = prompts.Take(4).Select(p => ((string)p["instruction"]!, (string)p["topic"]!)).ToList();
        long rows = 0;
        while (reader.Read())
        {
            rows++;
            Assert.Contains((reader.GetString(0), reader.GetString(1)), firstFour);
        }

        Assert.Equal(pairs.RowsOut, rows);
        Assert.Single(hub.Server.Downloads);
    }
}

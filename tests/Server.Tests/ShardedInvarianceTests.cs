using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Server.Tests.Infrastructure;
using Distil.Steps;

namespace Distil.Server.Tests;

/// <summary>
/// The shipped seed pipeline (two sampling generators and a sampling judge on tiny GroupQueryAttention models)
/// submitted to the service and cut into 5 shards gives the same dataset as <c>distil run</c> in one process with
/// another batch size: which rows share a batch, and which process runs them, does not change any token. DuckDB
/// compares the two files first (same schema, same rows in the same order, every column, nested messages included),
/// so a failure says whether data or only layout differs; then the bytes must be equal too (the merge rewrites the
/// shards' rows through the sink's own writer and row group size).
/// </summary>
public sealed class ShardedInvarianceTests : IDisposable
{
    private const int Prompts = 24;
    private readonly TestWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public async Task Seed_pipeline_sharded_5_ways_writes_the_bytes_of_a_single_process_run_at_batch_1()
    {
        // The engine `distil run` drives, in this process (it also builds the three tiny models both runs share).
        var single = WriteDefinition("single", maxBatch: 1);
        await new PipelineRunner().RunAsync(PipelineDefinition.Load(single, BuiltInSteps.CreateRegistry()), new RunOptions
        {
            OutputDirectory = Path.Combine(_workspace.Root, "single-out"),
            RunsRoot = Path.Combine(_workspace.Root, "single-runs"),
            Models = new ModelCatalog(),
        }, CancellationToken.None);
        var expected = Path.Combine(_workspace.Root, "single-out", "data.parquet");

        var sharded = WriteDefinition("sharded", maxBatch: 8);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 5);
        var id = await serve.SubmitAsync(_workspace, sharded);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromMinutes(6));
        Assert.Equal(5, run.GetProperty("run").GetProperty("shards_done").GetInt32());
        var merged = Path.Combine(run.GetProperty("run").GetProperty("output").GetString()!, "data.parquet");
        string Read(string file) => $"read_parquet('{file.Replace("'", "''")}')";
        var comparison = await DuckDbAsync($"""
            select
              (select count(*) from {Read(expected)}) as rows,
              (select count(*) from (select * from {Read(expected)} except all select * from {Read(merged)})) as only_single,
              (select count(*) from (select * from {Read(merged)} except all select * from {Read(expected)})) as only_merged,
              (select string_agg(prompt_id, ',') from {Read(expected)}) = (select string_agg(prompt_id, ',') from {Read(merged)}) as same_order,
              (select string_agg(column_name || ' ' || column_type, ',') from (describe select * from {Read(expected)}))
                = (select string_agg(column_name || ' ' || column_type, ',') from (describe select * from {Read(merged)})) as same_schema
            """);
        Assert.True(int.Parse(comparison.GetProperty("rows").GetString()!, CultureInfo.InvariantCulture) > 5, $"too few pairs to compare: {comparison}");
        Assert.Equal("0", comparison.GetProperty("only_single").GetString());
        Assert.Equal("0", comparison.GetProperty("only_merged").GetString());
        Assert.True(comparison.GetProperty("same_order").GetBoolean(), "rows are merged in another order than the single-process run wrote them");
        Assert.True(comparison.GetProperty("same_schema").GetBoolean(), "the merged file has other columns or types");
        var (singleBytes, mergedBytes) = (await File.ReadAllBytesAsync(expected), await File.ReadAllBytesAsync(merged));
        Assert.True(singleBytes.AsSpan().SequenceEqual(mergedBytes), "same rows, but the merged file's bytes differ from the single-process file's");
    }

    private static async Task<JsonElement> DuckDbAsync(string query) => (await DuckDb.QueryAsync(query))[0];

    /// <summary>The shipped pipeline on the first prompts of its data, every model at <paramref name="maxBatch"/>;
    /// both definitions share the model folders (built by the first run).</summary>
    private string WriteDefinition(string label, int maxBatch)
    {
        var shipped = TestRepository.File("pipelines/ultrafeedback-dpo.json");
        var definition = JsonNode.Parse(File.ReadAllText(shipped), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        foreach (var (name, model) in definition["models"]!.AsObject())
        {
            model!["path"] = Path.Combine(_workspace.Root, "models", name);
            model["max_batch_size"] = maxBatch;
        }

        var prompts = Path.Combine(_workspace.Root, "data", "prompts.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(prompts)!);
        var source = Path.Combine(Path.GetDirectoryName(shipped)!, "data", "prompts-mini.jsonl");
        File.WriteAllLines(prompts, File.ReadLines(source).Take(Prompts));
        foreach (var step in definition["steps"]!.AsArray())
        {
            if (step!["type"]!.GetValue<string>() == "load_jsonl")
            {
                step["path"] = prompts;
            }
        }

        var path = Path.Combine(_workspace.Root, $"{label}.json");
        File.WriteAllText(path, definition.ToJsonString());
        return path;
    }

}

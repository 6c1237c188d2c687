using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using Parquet;
using Parquet.Schema;

namespace Distil.Judge.Tests;

[Collection(TinyModelCollection.Name)]
public class SeedPipelineEndToEndTests(TinyModels models)
{
    /// <summary>The shipped pipeline, with its models pointed at the test's tiny models and short generations.</summary>
    private string ShippedPipelineOnTinyModels(string folder, bool sft = false, string pipeline = "ultrafeedback-dpo.json")
    {
        var shipped = TestRepository.File("pipelines/" + pipeline);
        var definition = JsonNode.Parse(File.ReadAllText(shipped), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        definition["models"]!["gen-a"]!["path"] = models.A;
        definition["models"]!["gen-b"]!["path"] = models.B;
        definition["models"]!["judge"]!["path"] = models.A;
        foreach (var step in definition["steps"]!.AsArray())
        {
            if (step!["type"]!.GetValue<string>() == "text_generation")
            {
                step["generation"]!["max_new_tokens"] = 6;
            }

            if (sft && step["type"]!.GetValue<string>() == "preference_pairs")
            {
                step["outputs"] = new JsonArray("dpo", "sft");
            }

            if (sft && step["type"]!.GetValue<string>() == "write_parquet")
            {
                step["columns"]!.AsArray().Add("messages");
            }

            if (step["type"]!.GetValue<string>() == "load_jsonl")
            {
                step["path"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(shipped)!, step["path"]!.GetValue<string>()));
            }
        }

        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, pipeline);
        File.WriteAllText(path, definition.ToJsonString());
        return path;
    }

    /// <summary>Parquet.Net 6 reports UTF-8 string columns as (nullable) ReadOnlyMemory&lt;char&gt;.</summary>
    private static bool IsString(DataField field) =>
        field.ClrType == typeof(string) || (Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType) == typeof(ReadOnlyMemory<char>);

    [Fact]
    public void The_shipped_pipeline_is_valid()
    {
        var definition = PipelineDefinition.Load(TestRepository.File("pipelines/ultrafeedback-dpo.json"), BuiltInSteps.CreateRegistry());
        Assert.Equal(["gen-a", "gen-b", "judge"], definition.Models.Keys.Order());
        Assert.Contains(definition.Steps, s => s.Name == "judge");
    }

    [Fact]
    public async Task Seed_pipeline_writes_a_dpo_parquet_with_nested_message_lists_and_a_card()
    {
        var folder = Path.Combine(models.Root, "e2e-" + Guid.NewGuid().ToString("N")[..6]);
        var definition = PipelineDefinition.Load(ShippedPipelineOnTinyModels(folder, sft: true), BuiltInSteps.CreateRegistry());
        var output = Path.Combine(folder, "out");

        var manifest = await new PipelineRunner().RunAsync(
            definition,
            new RunOptions { Range = new SourceRange(0, 6), RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = output, Models = new ModelCatalog() },
            default);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        var judge = manifest.Steps.Single(s => s.Name == "judge");
        Assert.Equal(0, judge.Errors);
        Assert.Equal(6, judge.RowsOut);
        var pairs = manifest.Steps.Single(s => s.Name == "pairs");
        Assert.Equal(6, pairs.RowsOut + pairs.Dropped.Values.Sum());

        var parquet = Path.Combine(output, "data.parquet");
        await using var stream = File.OpenRead(parquet);
        await using var reader = await ParquetReader.CreateAsync(stream);
        var fields = reader.Schema.Fields.ToDictionary(f => f.Name);
        foreach (var column in new[] { "prompt", "chosen", "rejected" })
        {
            var list = Assert.IsType<ListField>(fields[column]);
            var message = Assert.IsType<StructField>(list.Item);
            Assert.Equal(["content", "role"], message.Fields.Select(f => f.Name).Order());
            Assert.All(message.Fields, f => Assert.True(IsString((DataField)f), f.Name));
        }

        Assert.Equal(typeof(long), ((DataField)Assert.IsType<ListField>(fields["ratings"]).Item).ClrType);
        Assert.Equal(typeof(long), Assert.IsType<DataField>(fields["chosen_rating"]).ClrType);
        Assert.Equal(typeof(long), Assert.IsType<DataField>(fields["rejected_rating"]).ClrType);
        Assert.True(IsString(Assert.IsType<DataField>(fields["prompt_id"])));

        long rows = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            rows += group.RowCount;
            var ids = new string?[group.RowCount];
            await group.ReadAsync(reader.Schema.GetDataFields().Single(f => f.Name == "prompt_id"), ids.AsMemory(), null);
            Assert.All(ids, id => Assert.Matches("^[0-9a-f]{64}$", id));

            // One assistant message per row in chosen: as many leaf values as rows.
            var roles = new string?[group.RowCount];
            var repetition = new int[group.RowCount];
            await group.ReadAsync(reader.Schema.GetDataFields().Single(f => f.Name == "role" && f.Path.ToString()!.StartsWith("chosen", StringComparison.Ordinal)), roles.AsMemory(), repetition.AsMemory());
            Assert.All(roles, role => Assert.Equal("assistant", role));
            Assert.All(repetition, level => Assert.Equal(0, level)); // each value starts a new row: one message per row
        }

        Assert.Equal(pairs.RowsOut, rows);

        // Read back untyped: each pair's token counts are the generators' own counts (at most max_new_tokens = 6), and
        // the sft layout is the prompt the models were sent (one user turn here) followed by the chosen answer.
        Assert.Equal(typeof(long), Nullable.GetUnderlyingType(((DataField)fields["chosen_tokens"]).ClrType) ?? ((DataField)fields["chosen_tokens"]).ClrType);
        var sft = Assert.IsType<StructField>(Assert.IsType<ListField>(fields["messages"]).Item);
        Assert.Equal(["content", "role"], sft.Fields.Select(f => f.Name).Order());
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            await using var again = File.OpenRead(parquet);
            var untyped = await Parquet.Serialization.ParquetSerializer.DeserializeUntypedAsync(again, new ParquetOptions(), g);
            Assert.All(untyped.Data, row =>
            {
                Assert.InRange(Assert.IsType<long>(row["chosen_tokens"]), 0, 6);
                Assert.InRange(Assert.IsType<long>(row["rejected_tokens"]), 0, 6);
                var messages = ((System.Collections.IEnumerable)row["messages"]).Cast<IDictionary<string, object>>().ToList();
                Assert.Equal(["user", "assistant"], messages.Select(m => m["role"]?.ToString()));
                var chosen = ((System.Collections.IEnumerable)row["chosen"]).Cast<IDictionary<string, object>>().Single();
                Assert.Equal(chosen["content"]?.ToString(), messages[1]["content"]?.ToString());
            });
        }

        var card = await File.ReadAllTextAsync(Path.Combine(output, "README.md"));
        Assert.StartsWith("---\npretty_name: ultrafeedback-dpo\n", card);
        Assert.Contains("    path: data.parquet\n", card);
        Assert.Contains($"| rows | {rows} |", card);
        Assert.Contains("`tiny-a`", card);
        Assert.Contains($"| pairs with token counts | {rows} |", card);
    }

    /// <summary>
    /// pipelines/ultrafeedback-formats.json: the pairs of preference_pairs reach format_outputs through the graph
    /// and come out as four configurations in the Hub layout, KTO with two rows per pair, the card listing each.
    /// </summary>
    [Fact]
    public async Task Formats_pipeline_writes_every_trainer_configuration_from_the_pairs()
    {
        var folder = Path.Combine(models.Root, "formats-" + Guid.NewGuid().ToString("N")[..6]);
        var definition = PipelineDefinition.Load(ShippedPipelineOnTinyModels(folder, pipeline: "ultrafeedback-formats.json"), BuiltInSteps.CreateRegistry());
        var output = Path.Combine(folder, "out");

        var manifest = await new PipelineRunner().RunAsync(
            definition,
            new RunOptions { Range = new SourceRange(0, 6), RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = output, Models = new ModelCatalog() },
            default);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        var pairs = manifest.Steps.Single(s => s.Name == "pairs").RowsOut;
        async Task<long> RowsAsync(string config) =>
            (await RowCountAsync(Path.Combine(output, config, "train-00000-of-00001.parquet"))) + await RowCountAsync(Path.Combine(output, config, "test-00000-of-00001.parquet"));
        Assert.Equal(pairs, await RowsAsync("dpo"));
        Assert.Equal(2 * pairs, await RowsAsync("kto"));
        Assert.Equal(pairs, await RowsAsync("sft"));
        Assert.Equal(pairs, await RowsAsync("reward"));
        var card = await File.ReadAllTextAsync(Path.Combine(output, "README.md"));
        Assert.Contains("- config_name: kto\n  data_files:\n  - split: train\n    path: kto/train-*\n  - split: test\n    path: kto/test-*\n", card);
        Assert.Contains($"| rows | {pairs} |", card);
    }

    private static async Task<long> RowCountAsync(string parquet)
    {
        await using var stream = File.OpenRead(parquet);
        await using var reader = await ParquetReader.CreateAsync(stream);
        long rows = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            rows += group.RowCount;
        }

        return rows;
    }

    /// <summary>The shipped pipeline with its three models built on first use from the Falcon, Qwen2 and Qwen3
    /// presets (each <c>"build": {"preset": …}</c>), so the seed pipeline's path accepts the new architectures.</summary>
    [Fact]
    public async Task Seed_pipeline_runs_on_falcon_qwen2_and_qwen3_presets_built_on_first_use()
    {
        var folder = Path.Combine(models.Root, "archs-" + Guid.NewGuid().ToString("N")[..6]);
        var path = ShippedPipelineOnTinyModels(folder);
        var definition = JsonNode.Parse(File.ReadAllText(path))!;
        foreach (var (model, preset) in new[] { ("gen-a", "tiny-falcon"), ("gen-b", "tiny-qwen2"), ("judge", "tiny-qwen3") })
        {
            definition["models"]![model]!["path"] = Path.Combine(folder, "models", preset);
            definition["models"]![model]!["build"] = new JsonObject { ["preset"] = preset, ["seed"] = 5 };
        }

        File.WriteAllText(path, definition.ToJsonString());
        var manifest = await new PipelineRunner().RunAsync(
            PipelineDefinition.Load(path, BuiltInSteps.CreateRegistry()),
            new RunOptions { Range = new SourceRange(0, 3), RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = Path.Combine(folder, "out"), Models = new ModelCatalog() },
            default);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.Equal(0, manifest.Steps.Single(s => s.Name == "judge").Errors);
        Assert.Equal(3, manifest.Steps.Single(s => s.Name == "judge").RowsOut);
        foreach (var (preset, architecture) in new[] { ("tiny-falcon", "FalconForCausalLM"), ("tiny-qwen2", "Qwen2ForCausalLM"), ("tiny-qwen3", "Qwen3ForCausalLM") })
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "models", preset, "config.json")))!;
            Assert.Equal(architecture, config["architectures"]![0]!.GetValue<string>());
        }
    }
}

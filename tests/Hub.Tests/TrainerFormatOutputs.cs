using System.Text;
using System.Text.Json;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using DuckDB.NET.Data;

namespace Distil.Hub.Tests;

/// <summary>
/// format_outputs: one run writes the pairs as the dpo, kto, sft and reward configurations, split train/test by
/// prompt, in the Hub's config/split layout. Every file is read back by DuckDB (a reader independent of the
/// writer) and its column types checked against TRL's dataset formats; the card lists each configuration and
/// split; the publisher uploads every file to the loopback Hub.
/// </summary>
public sealed class TrainerFormatOutputs : IDisposable
{
    private const string Messages = "STRUCT(role VARCHAR, content VARCHAR)[]";
    private static readonly string[] Configs = ["dpo", "kto", "sft", "reward"];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "distil-formats-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Output => Path.Combine(_root, "out");

    /// <summary>
    /// <paramref name="pairs"/> conversational pairs as preference_pairs writes them; prompt p repeats (p % 3) + 1
    /// times, so splitting must keep a prompt's pairs together.
    /// </summary>
    private string WritePairs(int pairs, string name = "pairs.jsonl", int? badRow = null)
    {
        static object Message(string role, string content) => new Dictionary<string, string> { ["role"] = role, ["content"] = content };
        var lines = new List<string>();
        for (var prompt = 0; lines.Count < pairs; prompt++)
        {
            for (var repeat = 0; repeat <= prompt % 3 && lines.Count < pairs; repeat++)
            {
                var text = $"question {prompt}";
                lines.Add(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["prompt"] = lines.Count == badRow ? text : new[] { Message("system", "Be brief."), Message("user", text) },
                    ["chosen"] = new[] { Message("assistant", $"good answer {lines.Count}") },
                    ["rejected"] = new[] { Message("assistant", $"bad answer {lines.Count}") },
                    ["prompt_id"] = Judge.DpoExample.PromptIdOf(text),
                    ["chosen_rating"] = 5,
                    ["rejected_rating"] = 1 + (lines.Count % 3),
                    ["chosen_model"] = "gen-a",
                }));
            }
        }

        var path = Path.Combine(_root, name);
        Directory.CreateDirectory(_root);
        File.WriteAllLines(path, lines);
        return path;
    }

    private async Task<RunManifest> RunAsync(string pairs, string formatParameters)
    {
        var json = $$"""
            { "name": "formats", "steps": [
                { "name": "load", "type": "load_jsonl", "path": "{{Path.GetFileName(pairs)}}" },
                { "name": "formats", "type": "format_outputs", "after": ["load"], {{formatParameters}} } ] }
            """;
        var file = Path.Combine(_root, "pipeline.json");
        await File.WriteAllTextAsync(file, json);
        var definition = PipelineDefinition.Parse(json, file, BuiltInSteps.CreateRegistry());
        return await new PipelineRunner().RunAsync(definition, new RunOptions { RunsRoot = Path.Combine(_root, "runs"), OutputDirectory = Output }, CancellationToken.None);
    }

    private static List<(string Name, string Type)> DuckDbColumns(DuckDBConnection connection, string file)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"DESCRIBE SELECT * FROM read_parquet('{file}')";
        using var reader = command.ExecuteReader();
        var columns = new List<(string, string)>();
        while (reader.Read())
        {
            columns.Add((reader.GetString(0), reader.GetString(1).Replace("\"", "", StringComparison.Ordinal)));
        }

        return columns;
    }

    private static List<T> DuckDbValues<T>(DuckDBConnection connection, string file, string expression)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {expression} FROM read_parquet('{file}')";
        using var reader = command.ExecuteReader();
        var values = new List<T>();
        while (reader.Read())
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    [Fact]
    public async Task One_run_writes_every_trainer_format_split_by_prompt_with_the_column_types_TRL_expects()
    {
        const int Pairs = 60;
        var manifest = await RunAsync(WritePairs(Pairs), """ "configs": ["dpo", "kto", "sft", "reward"], "test_size": 0.25, "seed": 7, "scores": true, "row_group_size": 8 """);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        string FileOf(string config, string split) => Path.Combine(Output, config, $"{split}-00000-of-00001.parquet");
        var expectedTypes = new Dictionary<string, (string, string)[]>
        {
            ["dpo"] = [("prompt", Messages), ("chosen", Messages), ("rejected", Messages), ("prompt_id", "VARCHAR"), ("chosen_rating", "BIGINT"), ("rejected_rating", "BIGINT"), ("chosen_model", "VARCHAR"), ("score_chosen", "DOUBLE"), ("score_rejected", "DOUBLE")],
            ["kto"] = [("prompt", Messages), ("completion", Messages), ("label", "BOOLEAN"), ("prompt_id", "VARCHAR")],
            ["sft"] = [("messages", Messages), ("prompt_id", "VARCHAR")],
            ["reward"] = [("chosen", Messages), ("rejected", Messages), ("prompt_id", "VARCHAR"), ("score_chosen", "DOUBLE"), ("score_rejected", "DOUBLE")],
        };
        foreach (var config in Configs)
        {
            foreach (var split in new[] { "train", "test" })
            {
                Assert.Equal(expectedTypes[config], DuckDbColumns(connection, FileOf(config, split)));
                Assert.Contains(FileOf(config, split), manifest.OutputFiles);
            }
        }

        // Grouped by prompt: no prompt id in both splits, in any configuration, and every configuration splits alike.
        var dpoTrain = DuckDbValues<string>(connection, FileOf("dpo", "train"), "prompt_id");
        var dpoTest = DuckDbValues<string>(connection, FileOf("dpo", "test"), "prompt_id");
        Assert.Equal(Pairs, dpoTrain.Count + dpoTest.Count);
        Assert.Empty(dpoTrain.Intersect(dpoTest));
        var largestPrompt = dpoTrain.Concat(dpoTest).GroupBy(p => p).Max(g => g.Count());
        Assert.InRange(dpoTest.Count, 15, 15 + largestPrompt - 1);
        foreach (var config in Configs)
        {
            var train = DuckDbValues<string>(connection, FileOf(config, "train"), "prompt_id");
            var test = DuckDbValues<string>(connection, FileOf(config, "test"), "prompt_id");
            var perPair = config == "kto" ? 2 : 1;
            Assert.Equal(dpoTrain.Order().SelectMany(p => Enumerable.Repeat(p, perPair)), train.Order());
            Assert.Equal(dpoTest.Order().SelectMany(p => Enumerable.Repeat(p, perPair)), test.Order());
        }

        // KTO: chosen labelled true, rejected false, both rows of a pair in one split.
        foreach (var split in new[] { "train", "test" })
        {
            var completions = DuckDbValues<string>(connection, FileOf("kto", split), "completion[1].content || '|' || label");
            Assert.Equal(completions.Count / 2, completions.Count(c => c.StartsWith("good answer", StringComparison.Ordinal) && c.EndsWith("|true", StringComparison.Ordinal)));
            Assert.Equal(completions.Count / 2, completions.Count(c => c.StartsWith("bad answer", StringComparison.Ordinal) && c.EndsWith("|false", StringComparison.Ordinal)));
        }

        // SFT and reward hold the whole exchange: system, user, then the answer.
        Assert.All(DuckDbValues<string>(connection, FileOf("sft", "train"), "list_transform(messages, m -> m.role)::VARCHAR"), r => Assert.Equal("[system, user, assistant]", r));
        Assert.All(DuckDbValues<string>(connection, FileOf("reward", "test"), "rejected[3].content"), r => Assert.StartsWith("bad answer", r));
        Assert.All(DuckDbValues<double>(connection, FileOf("reward", "train"), "score_chosen"), s => Assert.Equal(5.0, s));

        // The card lists each configuration and split with a glob that matches its file.
        var card = await File.ReadAllTextAsync(Path.Combine(Output, "README.md"));
        var frontMatter = card[..(card.IndexOf("\n---\n", 4, StringComparison.Ordinal) + 1)];
        Assert.Contains("- config_name: dpo\n  default: true\n  data_files:\n  - split: train\n    path: dpo/train-*\n  - split: test\n    path: dpo/test-*\n", frontMatter);
        foreach (var config in Configs)
        {
            Assert.Contains($"- config_name: {config}\n", frontMatter);
            Assert.Contains($"    path: {config}/test-*\n", frontMatter);
        }

        Assert.Contains($"| rows | {Pairs} |", card);

        // Each configuration has its own section: its trainer, its columns as written, and the rows of each split as DuckDB counts them.
        var trainers = new Dictionary<string, string> { ["dpo"] = "`DPOTrainer`", ["kto"] = "`KTOTrainer`", ["sft"] = "`SFTTrainer`", ["reward"] = "`RewardTrainer`" };
        foreach (var config in Configs)
        {
            var section = card[card.IndexOf($"### Configuration `{config}`\n", StringComparison.Ordinal)..];
            section = section[..section.IndexOf("\n\n", section.IndexOf("- rows:", StringComparison.Ordinal), StringComparison.Ordinal)];
            Assert.Contains($"- trainer: {trainers[config]}", section);
            Assert.Contains("- columns: " + string.Join(", ", DuckDbColumns(connection, FileOf(config, "train")).Select(c => $"`{c.Item1}`")) + "\n", section);
            var train = DuckDbValues<string>(connection, FileOf(config, "train"), "prompt_id").Count;
            var test = DuckDbValues<string>(connection, FileOf(config, "test"), "prompt_id").Count;
            Assert.EndsWith($"- rows: `train` {train}, `test` {test}", section);
        }
    }

    [Fact]
    public async Task The_publisher_uploads_every_configuration_and_split_and_the_hub_card_lists_them()
    {
        await RunAsync(WritePairs(24), """ "configs": ["dpo", "kto", "sft", "reward"], "test_size": 6, "seed": 1 """);
        var run = Path.GetDirectoryName(Directory.GetFiles(Path.Combine(_root, "runs"), RunManifest.FileName, SearchOption.AllDirectories).Single())!;
        await using var hub = await TestHub.StartAsync();

        await HubPublisher.PublishAsync(run, hub.Options("alice/formats"), CancellationToken.None);

        var repo = hub.Server.Repo("alice/formats");
        Assert.Empty(hub.Server.Violations);
        var expected = Configs.SelectMany(c => new[] { $"{c}/train-00000-of-00001.parquet", $"{c}/test-00000-of-00001.parquet" }).ToList();
        Assert.Equal(expected.Append("README.md").Append("pipeline.json").Order(StringComparer.Ordinal), repo.Files.Keys.Order(StringComparer.Ordinal));
        foreach (var file in expected)
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(Output, file)), repo.Files[file]);
        }

        var card = Encoding.UTF8.GetString(repo.Files["README.md"]);
        foreach (var config in Configs)
        {
            Assert.Contains($"- config_name: {config}\n", card);
            Assert.Contains($"  - split: train\n    path: {config}/train-*\n  - split: test\n    path: {config}/test-*\n", card);
        }

        Assert.DoesNotContain("config_name: default", card);

        // --to-dir writes the same files, and accepts its own earlier export as the target.
        var target = Path.Combine(_root, "export");
        await HubPublisher.PublishAsync(run, hub.Options() with { Repo = null, ToDirectory = target }, CancellationToken.None);
        await HubPublisher.PublishAsync(run, hub.Options() with { Repo = null, ToDirectory = target }, CancellationToken.None);
        var exported = Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(target, f).Replace('\\', '/'), File.ReadAllBytes);
        Assert.Equal(repo.Files.Keys.Order(StringComparer.Ordinal), exported.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, f => Assert.Equal(repo.Files[f], exported[f]));
    }

    [Fact]
    public async Task A_failing_rerun_leaves_the_published_configurations_untouched_and_a_rerun_without_test_size_removes_the_test_files()
    {
        await RunAsync(WritePairs(20), """ "configs": ["dpo", "kto"], "test_size": 0.2 """);
        var before = Directory.GetFiles(Output, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToDictionary(f => f, File.ReadAllBytes);

        // Row 9's prompt is a string while its answers are message lists: the kto writer refuses it mid-run.
        var failing = await Assert.ThrowsAsync<InvalidDataException>(() => RunAsync(WritePairs(20, "bad.jsonl", badRow: 9), """ "configs": ["dpo", "kto"], "test_size": 0.2 """));
        Assert.Contains("row 9", failing.Message);
        Assert.Equal(before.Keys, Directory.GetFiles(Output, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
        Assert.All(before, f => Assert.Equal(f.Value, File.ReadAllBytes(f.Key)));

        await RunAsync(WritePairs(20), """ "configs": ["dpo", "kto"] """);
        Assert.Equal(
            ["README.md", "dpo/train-00000-of-00001.parquet", "kto/train-00000-of-00001.parquet"],
            Directory.GetFiles(Output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Output, f)).Order(StringComparer.Ordinal));
    }
}

using System.Text;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using Parquet.Serialization;

namespace Distil.Hub.Tests;

public sealed class PushToHubStep
{
    [Fact]
    public async Task A_pipeline_ending_in_push_to_hub_publishes_its_rows_card_and_definition()
    {
        await using var hub = await TestHub.StartAsync();
        var tokenVariable = "DISTIL_TEST_TOKEN_" + Guid.NewGuid().ToString("N");
        using var environment = new EnvironmentScope((tokenVariable, hub.Token));
        var (definition, options) = Pipeline(hub, $$"""
            { "name": "tiny-publish",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                { "name": "publish", "type": "push_to_hub", "after": ["load"], "repo": "alice/tiny", "private": true,
                  "endpoint": "{{hub.Server.Endpoint}}", "token_env": "{{tokenVariable}}", "path": "tiny.parquet", "row_group_size": 4 } ] }
            """);

        var manifest = await new PipelineRunner().RunAsync(definition, options, CancellationToken.None);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        var repo = hub.Server.Repo("alice/tiny");
        Assert.True(repo.Private);
        Assert.Single(repo.Commits);
        Assert.Empty(hub.Server.Violations);
        Assert.Equal(["README.md", "data/train-00000-of-00001.parquet", "pipeline.json"], repo.Files.Keys.Order(StringComparer.Ordinal));
        var output = manifest.OutputFiles[0];
        Assert.Equal(await File.ReadAllBytesAsync(output), repo.Files["data/train-00000-of-00001.parquet"]);
        Assert.Equal(definition.Json, Encoding.UTF8.GetString(repo.Files["pipeline.json"]));
        // The card comes from dataset_card (run inside push_to_hub), its configs pointed at the published shards.
        var card = Encoding.UTF8.GetString(repo.Files["README.md"]);
        Assert.Contains("configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n", card);
        Assert.DoesNotContain("path: \"*.parquet\"", card);
        Assert.Contains("pretty_name: tiny-publish", card);
        Assert.Contains("| rows | 10 |", card);
        Assert.Contains("## Pipeline", card);
        Assert.Equal([Path.Combine(options.OutputDirectory!, "tiny.parquet"), Path.Combine(options.OutputDirectory!, "README.md")], manifest.OutputFiles);

        await using var published = new MemoryStream(repo.Files["data/train-00000-of-00001.parquet"]);
        var rows = await ParquetSerializer.DeserializeUntypedAsync(published);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"prompt {i}"), rows.Data.Select(r => (string)r["instruction"]!));
    }

    [Fact]
    public async Task A_deferred_step_only_writes_and_its_target_publishes_the_folder_later()
    {
        await using var hub = await TestHub.StartAsync();
        var tokenVariable = "DISTIL_TEST_TOKEN_" + Guid.NewGuid().ToString("N");
        var (definition, options) = Pipeline(hub, $$"""
            { "name": "sharded",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                { "name": "publish", "type": "push_to_hub", "after": ["load"], "repo": "alice/merged",
                  "endpoint": "{{hub.Server.Endpoint}}", "token_env": "{{tokenVariable}}" } ] }
            """);
        var step = definition.Steps.Select(s => s.Step).OfType<IHubPublishingStep>().Single();
        step.Deferred = true;

        // A shard job: no token needed, nothing published.
        var manifest = await new PipelineRunner().RunAsync(definition, options, CancellationToken.None);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.Empty(hub.Server.Repos);
        Assert.True(File.Exists(manifest.OutputFiles[0]));

        // The merge job publishes the (merged) folder once.
        using var environment = new EnvironmentScope((tokenVariable, hub.Token));
        var result = await HubPublisher.PublishAsync(options.OutputDirectory!, step.Target, CancellationToken.None);

        var repo = hub.Server.Repo("alice/merged");
        Assert.Single(repo.Commits);
        Assert.Equal(await File.ReadAllBytesAsync(manifest.OutputFiles[0]), repo.Files["data/train-00000-of-00001.parquet"]);
        Assert.Contains("README.md", repo.Files.Keys);
        Assert.Empty(hub.Server.Violations);
    }

    [Fact]
    public async Task A_missing_token_fails_the_run_before_any_row_is_written()
    {
        using var folder = new TempFolder();
        var tokenVariable = "DISTIL_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        var (definition, options) = Pipeline(folder.Path, "http://127.0.0.1:9", $$"""
            { "name": "no-token",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                { "name": "publish", "type": "push_to_hub", "after": ["load"], "repo": "alice/tiny", "token_env": "{{tokenVariable}}" } ] }
            """);

        var error = await Assert.ThrowsAsync<PipelineDefinitionException>(() => new PipelineRunner().RunAsync(definition, options, CancellationToken.None));

        Assert.Contains($"the environment variable {tokenVariable} named by 'token_env' is not set", error.Message);
        Assert.Equal("$.steps[1].token_env", error.JsonPath);
        Assert.Empty(Directory.EnumerateFiles(options.OutputDirectory!, "*.parquet"));
    }

    [Fact]
    public void A_bad_repo_is_rejected_when_the_definition_is_loaded()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, "p.json");
        var json = """
            { "name": "bad",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                { "name": "publish", "type": "push_to_hub", "after": ["load"],
                  "repo": "not a repo" } ] }
            """;
        File.WriteAllText(file, json);
        File.WriteAllText(Path.Combine(folder.Path, "prompts.jsonl"), "{\"instruction\": \"x\"}\n");

        var error = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, file, BuiltInSteps.CreateRegistry()));

        Assert.True(error.Message.Contains("'not a repo' is not a Hub repository id", StringComparison.Ordinal), error.Message);
        Assert.Equal(5, error.Line);
    }

    [Fact]
    public async Task push_to_hub_with_to_dir_writes_the_layout_without_a_token()
    {
        using var folder = new TempFolder();
        var (definition, options) = Pipeline(folder.Path, "http://127.0.0.1:9", """
            { "name": "offline",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                { "name": "publish", "type": "push_to_hub", "after": ["load"], "to_dir": "export" } ] }
            """);

        await new PipelineRunner().RunAsync(definition, options, CancellationToken.None);

        var export = Path.Combine(folder.Path, "export");
        Assert.True(File.Exists(Path.Combine(export, "data", "train-00000-of-00001.parquet")));
        Assert.True(File.Exists(Path.Combine(export, "README.md")));
        Assert.Equal(definition.Json, File.ReadAllText(Path.Combine(export, "pipeline.json")));
    }

    private static (PipelineDefinition, RunOptions) Pipeline(TestHub hub, string json) => Pipeline(hub.Folder, hub.Server.Endpoint, json);

    private static (PipelineDefinition, RunOptions) Pipeline(string root, string endpoint, string json)
    {
        File.WriteAllLines(Path.Combine(root, "prompts.jsonl"), Enumerable.Range(0, 10).Select(i => $$"""{"instruction": "prompt {{i}}"}"""));
        var file = Path.Combine(root, "pipeline.json");
        File.WriteAllText(file, json);
        var definition = PipelineDefinition.Parse(json, file, BuiltInSteps.CreateRegistry());
        return (definition, new RunOptions { RunsRoot = Path.Combine(root, "runs"), OutputDirectory = Path.Combine(root, "out") });
    }
}

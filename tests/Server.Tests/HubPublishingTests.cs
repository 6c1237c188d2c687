using System.Text;
using System.Text.Json;
using Distil.Hub.Tests;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// push_to_hub in a service run: shards only write, the merge publishes the whole dataset and its card once, on the
/// loopback Hub, and the run records the commit — even when the worker dies between the Hub's commit and recording it.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class HubPublishingTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_merge_whose_worker_is_killed_after_the_hub_commit_publishes_exactly_once()
    {
        var token = "hf_" + Guid.NewGuid().ToString("N");
        await using var hub = await LoopbackHub.StartAsync(token);
        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var commits = 0;
        using var stop = new CancellationTokenSource();
        // The first commit is applied, then its answer never comes: the worker waits on it until it is killed.
        hub.AfterCommit = async () =>
        {
            if (Interlocked.Increment(ref commits) == 1)
            {
                committed.TrySetResult();
                await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { });
            }
        };
        var pipeline = PublishingPipeline("published", rows: 60, hub.Endpoint);
        var database = await postgres.CreateDatabaseAsync("publish");
        var environment = new Dictionary<string, string?> { ["HF_TOKEN"] = token };
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 20);
        var id = await serve.SubmitAsync(_workspace, pipeline);

        await using (var victim = await WorkerProcess.StartAsync(_workspace, database, "victim", environment: environment))
        {
            await committed.Task.WaitAsync(TimeSpan.FromSeconds(120));
            victim.Kill();
        }

        Assert.Equal("Merging", (await serve.GetRunAsync(id)).GetProperty("run").GetProperty("state").GetString());
        await using var survivor = await WorkerProcess.StartAsync(_workspace, database, "survivor", environment: environment);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(120));
        await stop.CancelAsync();

        // One commit on the Hub, and it is the one the run records.
        var repo = hub.Repo("alice/served");
        Assert.Single(repo.Commits);
        Assert.Equal(1, commits);
        Assert.Contains("already has this dataset", survivor.Output);
        var publication = Assert.Single(run.GetProperty("publications").EnumerateArray());
        Assert.Equal("push", publication.GetProperty("step").GetString());
        var commitUrl = publication.GetProperty("commit_url").GetString()!;
        Assert.StartsWith($"{hub.Endpoint}/datasets/alice/served/commit/", commitUrl);
        using var http = new HttpClient { BaseAddress = new Uri(hub.Endpoint) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        var head = JsonDocument.Parse(await http.GetStringAsync("/api/datasets/alice/served/revision/main")).RootElement.GetProperty("sha").GetString();
        Assert.EndsWith("/" + head, commitUrl);

        // What went up is the whole dataset (every shard's rows, once, in order) with a card that counts all of them.
        var parquet = repo.Files.Where(f => f.Key.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        var published = new List<Dictionary<string, object?>>();
        foreach (var (path, bytes) in parquet.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var local = Path.Combine(_workspace.Root, "downloaded", path);
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await File.WriteAllBytesAsync(local, bytes);
            published.AddRange(ParquetRows.Read(local));
        }

        Assert.Equal(Enumerable.Range(0, 60).Select(i => (long)i), published.Select(r => (long)r["n"]!));
        var card = Encoding.UTF8.GetString(repo.Files["README.md"]);
        Assert.Contains("| rows | 60 |", card);
        Assert.Contains("pipeline.json", repo.Files.Keys);
    }

    [Fact]
    public async Task A_service_run_that_publishes_to_a_folder_writes_the_merged_dataset_there()
    {
        var pipeline = Path.Combine(_workspace.Root, "pipelines", "exported.json");
        File.WriteAllLines(Path.Combine(_workspace.Root, "data", "exported.jsonl"), Enumerable.Range(0, 7).Select(i => $$"""{"instruction": "hi {{i}}", "n": {{i}}}"""));
        File.WriteAllText(pipeline, """
            {
              "name": "exported",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/exported.jsonl" },
                { "name": "push", "type": "push_to_hub", "after": ["load"], "repo": "someone/set", "to_dir": "../export" }
              ]
            }
            """);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 3);

        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));

        var export = Path.Combine(_workspace.Root, "export");
        var rows = Directory.GetFiles(export, "*.parquet", SearchOption.AllDirectories).Order(StringComparer.Ordinal).SelectMany(ParquetRows.Read).ToList();
        Assert.Equal(Enumerable.Range(0, 7).Select(i => (long)i), rows.Select(r => (long)r["n"]!));
        Assert.Contains("| rows | 7 |", File.ReadAllText(Path.Combine(export, "README.md")));
        Assert.Equal(3, run.GetProperty("run").GetProperty("shards").GetInt32());
        Assert.Equal(export, Assert.Single(run.GetProperty("publications").EnumerateArray()).GetProperty("repo_url").GetString());
    }

    private string PublishingPipeline(string name, int rows, string endpoint)
    {
        File.WriteAllLines(Path.Combine(_workspace.Root, "data", $"{name}.jsonl"), Enumerable.Range(0, rows).Select(i => $$"""{"instruction": "Say hi number {{i}}", "n": {{i}}}"""));
        var path = Path.Combine(_workspace.Root, "pipelines", $"{name}.json");
        File.WriteAllText(path, $$"""
            {
              "name": "{{name}}",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/{{name}}.jsonl" },
                { "name": "pace", "type": "pass_through", "delay_ms": 100, "input_batch_size": 10 },
                { "name": "push", "type": "push_to_hub", "repo": "alice/served", "endpoint": "{{endpoint}}", "path": "rows.parquet" }
              ]
            }
            """);
        return path;
    }

    public void Dispose() => _workspace.Dispose();
}

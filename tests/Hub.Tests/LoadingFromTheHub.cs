using System.Text.Json;
using DuckDB.NET.Data;
using Distil.Pipeline;

namespace Distil.Hub.Tests;

/// <summary>load_hub against the loopback hub: what it reads, what it downloads, and how it fails.</summary>
public sealed class LoadingFromTheHub
{
    [Fact]
    public async Task Rows_are_the_split_s_parquet_rows_in_file_order_as_an_independent_reader_sees_them()
    {
        await using var hub = await TestHub.StartAsync();
        var files = HubPromptSets.TrainAndTest(files: 2, rowsPerFile: 10);
        var sha = hub.Server.AddDataset("argilla/prompts", files, cardConfigs: HubPromptSets.CardConfigs);
        hub.Server.TreePageSize = 2; // the listing comes in pages: the Link header must be followed

        var definition = HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, HubPromptSets.Settings(hub));
        var (manifest, rows) = await HubPromptSets.RunAsync(hub, definition);

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        var expected = new List<(string? Instruction, string? Topic, long? N)>();
        foreach (var path in new[] { "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet" })
        {
            var copy = Path.Combine(hub.Folder, Path.GetFileName(path));
            await File.WriteAllBytesAsync(copy, files[path]);
            expected.AddRange(DuckRows(copy));
        }

        Assert.Equal(20, rows.Count);
        Assert.Equal(expected, rows.Select(r => (Text(r, "instruction"), Text(r, "topic"), r.GetProperty("n").ValueKind == JsonValueKind.Null ? (long?)null : r.GetProperty("n").GetInt64())));
        Assert.Contains(rows, r => r.GetProperty("topic").ValueKind == JsonValueKind.Null);
        Assert.Equal($"hf://datasets/argilla/prompts@{sha}/default/train", manifest.Source);
        Assert.Empty(hub.Server.Violations);
    }

    [Fact]
    public async Task Another_split_and_columns_are_read_as_asked()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(), cardConfigs: HubPromptSets.CardConfigs);

        var definition = HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts", "split": "test", "columns": ["instruction"] """, HubPromptSets.Settings(hub));
        var (_, rows) = await HubPromptSets.RunAsync(hub, definition);

        Assert.Equal(["instruction"], rows.SelectMany(r => r.EnumerateObject().Select(p => p.Name)).Distinct());
        Assert.Equal(Enumerable.Range(1000, 3).Select(i => $"Question {i}:"), rows.Select(r => Text(r, "instruction")!.Split(':')[0] + ":"));
        Assert.Equal(["instruction"], definition["load"].ColumnsOut);
    }

    [Fact]
    public async Task The_revision_is_pinned_to_its_commit_in_the_manifest_and_a_moved_branch_starts_a_new_run()
    {
        await using var hub = await TestHub.StartAsync();
        var first = hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(files: 1), cardConfigs: HubPromptSets.CardConfigs);
        var settings = HubPromptSets.Settings(hub);

        var (before, _) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, settings));
        var second = hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(files: 2), cardConfigs: HubPromptSets.CardConfigs);
        var (after, moved) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, settings));
        var (pinned, old) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, $$""" "repo": "argilla/prompts", "revision": "{{first}}" """, settings));

        Assert.Contains($"@{first}/", before.Source);
        Assert.Contains($"@{second}/", after.Source);
        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
        Assert.Equal(20, moved.Count);
        Assert.Contains($"@{first}/", pinned.Source);
        Assert.Equal(10, old.Count);
        var written = RunManifest.Read(Path.Combine(pinned.RunDirectory, RunManifest.FileName));
        Assert.Equal(pinned.Source, written.Source);
    }

    [Fact]
    public async Task A_second_run_reads_the_cache_and_downloads_nothing()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(), cardConfigs: HubPromptSets.CardConfigs);
        var settings = HubPromptSets.Settings(hub);

        var (_, firstRows) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, settings));
        var downloads = hub.Server.Downloads.Count;
        var (_, secondRows) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, settings), fresh: true);

        Assert.Equal(2, downloads);
        Assert.Equal(downloads, hub.Server.Downloads.Count);
        Assert.Equal(firstRows.Select(r => r.GetRawText()), secondRows.Select(r => r.GetRawText()));
    }

    [Fact]
    public async Task A_cut_download_resumes_with_a_range_request_for_the_missing_bytes()
    {
        await using var hub = await TestHub.StartAsync();
        var files = HubPromptSets.TrainAndTest(files: 1, rowsPerFile: 40);
        hub.Server.AddDataset("argilla/prompts", files, cardConfigs: HubPromptSets.CardConfigs);
        hub.Server.FailNext(r => r.Path.StartsWithSegments("/storage/lfs"), FaultKind.TruncateResponse);

        var (manifest, rows) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, HubPromptSets.Settings(hub)));

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.Equal(40, rows.Count);
        Assert.Contains(hub.Log.Lines, l => l.Contains("resuming at byte", StringComparison.Ordinal));
        var size = files["data/train-00000-of-00001.parquet"].Length;
        var attempts = hub.Server.Downloads.ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Null(attempts[0].Range);
        Assert.Equal($"bytes={size / 2}-", attempts[1].Range);
        Assert.Equal(size, hub.Server.BytesServed);
    }

    [Fact]
    public async Task A_partial_file_left_by_a_killed_run_is_completed_not_downloaded_again()
    {
        await using var hub = await TestHub.StartAsync();
        var files = HubPromptSets.TrainAndTest(files: 1, rowsPerFile: 40);
        var sha = hub.Server.AddDataset("argilla/prompts", files, cardConfigs: HubPromptSets.CardConfigs);
        var bytes = files["data/train-00000-of-00001.parquet"];
        var settings = HubPromptSets.Settings(hub);
        var part = Path.Combine(settings.CacheDirectory!, "datasets", "argilla", "prompts", sha, "data", "train-00000-of-00001.parquet.part");
        Directory.CreateDirectory(Path.GetDirectoryName(part)!);
        await File.WriteAllBytesAsync(part, bytes[..100]);

        var (_, rows) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, settings));

        Assert.Equal(40, rows.Count);
        Assert.Equal("bytes=100-", Assert.Single(hub.Server.Downloads).Range);
        Assert.Equal(bytes.Length - 100, hub.Server.BytesServed);
        Assert.False(File.Exists(part));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(part[..^".part".Length]));
    }

    [Fact]
    public async Task Two_readers_of_one_cache_fetching_the_same_file_at_once_both_get_it_whole()
    {
        await using var hub = await TestHub.StartAsync();
        var files = HubPromptSets.TrainAndTest(files: 1, rowsPerFile: 200);
        hub.Server.AddDataset("argilla/prompts", files, cardConfigs: HubPromptSets.CardConfigs);
        var options = new HubDatasetOptions
        {
            Repo = "argilla/prompts",
            Endpoint = hub.Server.Endpoint,
            CacheDirectory = Path.Combine(hub.Folder, "cache"),
            Retry = new HubRetryPolicy(8, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(1)),
        };
        using var first = new HubDataset(options);
        using var second = new HubDataset(options);
        var snapshot = await first.ResolveAsync(CancellationToken.None);

        var paths = await Task.WhenAll(
            first.DownloadAsync(snapshot, snapshot.Files[0], CancellationToken.None),
            second.DownloadAsync(snapshot, snapshot.Files[0], CancellationToken.None));

        Assert.Equal(paths[0], paths[1]);
        Assert.Equal(files["data/train-00000-of-00001.parquet"], await File.ReadAllBytesAsync(paths[0]));
        Assert.False(File.Exists(paths[0] + ".part"));
        Assert.Single(hub.Server.Downloads);
    }

    [Theory]
    [InlineData(5, 1)]
    [InlineData(15, 2)]
    public async Task Limit_downloads_only_the_files_it_needs(long limit, int filesFetched)
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(files: 3, rowsPerFile: 10), cardConfigs: HubPromptSets.CardConfigs);

        var (_, rows) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, HubPromptSets.Settings(hub)), new SourceRange(0, limit));

        Assert.Equal(limit, rows.Count);
        Assert.Equal(
            Enumerable.Range(0, filesFetched).Select(f => $"data/train-{f:D5}-of-00003.parquet"),
            hub.Server.Downloads.Select(d => d.Path));
    }

    [Fact]
    public async Task A_shard_across_a_file_boundary_holds_the_same_rows_as_that_slice_of_the_whole_split()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(files: 3, rowsPerFile: 10), cardConfigs: HubPromptSets.CardConfigs);
        var settings = HubPromptSets.Settings(hub);

        var (_, all) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, settings));
        var (_, shard) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, settings), new SourceRange(7, 10));

        Assert.Equal(all.Skip(7).Take(10).Select(r => r.GetRawText()), shard.Select(r => r.GetRawText()));
    }

    [Fact]
    public async Task Rate_limits_server_errors_and_dropped_connections_are_retried()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(), cardConfigs: HubPromptSets.CardConfigs);
        hub.Server.FailNext(r => r.Path.Value!.Contains("/revision/", StringComparison.Ordinal), FaultKind.TooManyRequests);
        hub.Server.FailNext(r => r.Path.Value!.Contains("/tree/", StringComparison.Ordinal), FaultKind.ServiceUnavailable, times: 2);
        hub.Server.FailNext(r => r.Path.Value!.Contains("/resolve/", StringComparison.Ordinal), FaultKind.ServiceUnavailable);
        hub.Server.FailNext(r => r.Path.StartsWithSegments("/storage/lfs"), FaultKind.DropResponseMidBody, times: 2);

        var (manifest, rows) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "argilla/prompts" """, HubPromptSets.Settings(hub)));

        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.Equal(20, rows.Count);
        Assert.Equal(2, hub.Server.Requests.Count(r => r.Contains("/revision/", StringComparison.Ordinal)));
        Assert.Equal(3, hub.Server.Requests.Count(r => r.Contains("/tree/", StringComparison.Ordinal)));
        Assert.Contains(hub.Log.Lines, l => l.Contains("429", StringComparison.Ordinal) || l.Contains("503", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_private_dataset_needs_the_token_and_the_token_never_reaches_storage()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("alice/private-prompts", HubPromptSets.TrainAndTest(), isPrivate: true, cardConfigs: HubPromptSets.CardConfigs);

        var anonymous = HubPromptSets.Pipeline(hub.Folder, """ "repo": "alice/private-prompts" """, HubPromptSets.Settings(hub));
        var error = await Assert.ThrowsAsync<PipelineDefinitionException>(() => HubPromptSets.RunAsync(hub, anonymous));
        Assert.Equal("$.steps[0].repo", error.JsonPath);
        Assert.Contains("HF_TOKEN", error.Message);

        var withToken = HubPromptSets.Pipeline(hub.Folder, """ "repo": "alice/private-prompts", "token_env": "MY_HUB_TOKEN" """, HubPromptSets.Settings(hub, ("MY_HUB_TOKEN", hub.Token)));
        var (manifest, rows) = await HubPromptSets.RunAsync(hub, withToken);

        Assert.Equal(20, rows.Count);
        Assert.Empty(hub.Server.Violations);
        Assert.All(hub.Server.AuthorizationHeaders.Where(h => h.Path.StartsWith("/storage", StringComparison.Ordinal)), h => Assert.Null(h.Authorization));
        Assert.Contains(hub.Server.AuthorizationHeaders, h => h.Path.Contains("/resolve/", StringComparison.Ordinal) && h.Authorization == $"Bearer {hub.Token}");
        Assert.DoesNotContain(hub.Token, File.ReadAllText(Path.Combine(manifest.RunDirectory, RunManifest.FileName)));
    }

    [Fact]
    public async Task A_repository_without_parquet_is_read_from_the_hub_s_parquet_conversion()
    {
        await using var hub = await TestHub.StartAsync();
        var main = hub.Server.AddDataset("bob/jsonl-prompts", new Dictionary<string, byte[]>
        {
            ["train.jsonl"] = """{"instruction": "not read", "topic": "x"}"""u8.ToArray(),
        });
        var conversion = hub.Server.AddDataset("bob/jsonl-prompts", new Dictionary<string, byte[]>
        {
            ["default/train/0000.parquet"] = HubPromptSets.Parquet(0, 6),
            ["default/train/0001.parquet"] = HubPromptSets.Parquet(6, 5),
            ["default/train/index.duckdb"] = [1, 2, 3],
        }, branch: "refs/convert/parquet");

        var (manifest, rows) = await HubPromptSets.RunAsync(hub, HubPromptSets.Pipeline(hub.Folder, """ "repo": "bob/jsonl-prompts" """, HubPromptSets.Settings(hub)));

        Assert.Equal(Enumerable.Range(0, 11).Select(i => $"Question {i}"), rows.Select(r => Text(r, "instruction")!.Split(':')[0]));
        Assert.Equal($"hf://datasets/bob/jsonl-prompts@{main}/default/train (parquet conversion @{conversion})", manifest.Source);
    }

    [Theory]
    [InlineData(""" "repo": "nobody/missing" """, "$.steps[0].repo", "not found")]
    [InlineData(""" "repo": "argilla/prompts", "split": "validation" """, "$.steps[0].split", "it has: test, train")]
    [InlineData(""" "repo": "argilla/prompts", "config": "fr" """, "$.steps[0].config", "it has: default")]
    [InlineData(""" "repo": "argilla/prompts", "subset": "fr" """, "$.steps[0].subset", "it has: default")]
    [InlineData(""" "repo": "argilla/prompts", "revision": "v9" """, "$.steps[0].revision", "no revision 'v9'")]
    public async Task An_unknown_repo_split_config_or_revision_is_an_error_at_that_field(string step, string field, string detail)
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(), cardConfigs: HubPromptSets.CardConfigs);

        var definition = HubPromptSets.Pipeline(hub.Folder, step, HubPromptSets.Settings(hub));
        var error = await Assert.ThrowsAsync<PipelineDefinitionException>(() => HubPromptSets.RunAsync(hub, definition));

        Assert.Equal(field, error.JsonPath);
        Assert.Contains(detail, error.Message);
        Assert.Equal(definition.File, error.File);
    }

    [Fact]
    public async Task The_command_line_exits_with_2_and_names_the_field_of_an_unknown_split()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.AddDataset("argilla/prompts", HubPromptSets.TrainAndTest(), cardConfigs: HubPromptSets.CardConfigs);
        var file = Path.Combine(hub.Folder, "bad.json");
        await File.WriteAllTextAsync(file, """
            { "name": "bad",
              "steps": [
                { "name": "load", "type": "load_hub", "repo": "argilla/prompts", "split": "validation" },
                { "name": "write", "type": "write_jsonl", "path": "rows.jsonl" } ] }
            """);

        var (exit, _, error) = await hub.RunCliAsync("run", file, "--hub-endpoint", hub.Server.Endpoint, "--hub-cache", Path.Combine(hub.Folder, "cache"), "--runs", Path.Combine(hub.Folder, "runs"), "-o", Path.Combine(hub.Folder, "out"));

        Assert.True(exit == 2, error);
        Assert.Contains("bad.json", error);
        Assert.Contains("$.steps[0].split", error);
        Assert.Contains("it has: test, train", error);
    }

    [Theory]
    [InlineData(""" "repo": "not a repo" """, "$.steps[0].repo", 4)]
    [InlineData(""" "split": "train" """, "$.steps[0].repo", 3)]
    [InlineData(""" "repo": "a/b", "config": "x", "subset": "y" """, "$.steps[0].subset", 4)]
    [InlineData(""" "repo": "a/b", "split": "" """, "$.steps[0].split", 4)]
    [InlineData(""" "repo": "a/b", "columns": [] """, "$.steps[0].columns", 4)]
    [InlineData(""" "repo": "a/b", "columns": [1] """, "$.steps[0].columns", 4)]
    [InlineData(""" "repo": "a/b", "endpoint": "ftp://hub" """, "$.steps[0].endpoint", 4)]
    [InlineData(""" "repo": "a/b", "revison": "main" """, "$.steps[0].revison", 4)]
    public void Bad_parameters_are_located_errors_before_anything_runs(string step, string path, long line)
    {
        var json = $$"""
            { "name": "bad",
              "steps": [
                { "name": "load", "type": "load_hub",
                  {{step}} },
                { "name": "write", "type": "write_jsonl", "path": "rows.jsonl" } ] }
            """;

        var error = Assert.Throws<PipelineDefinitionException>(() => Distil.Pipeline.PipelineDefinition.Parse(json, "bad.json", Distil.Steps.BuiltInSteps.CreateRegistry(new Distil.Steps.HubSourceSettings { Environment = _ => null })));

        Assert.Equal(path, error.JsonPath);
        Assert.Equal(line, error.Line);
        Assert.Equal("bad.json", error.File);
    }

    [Fact]
    public async Task Distil_steps_lists_load_hub_with_its_parameters()
    {
        await using var hub = await TestHub.StartAsync();

        var (exit, output, _) = await hub.RunCliAsync("steps");

        Assert.Equal(0, exit);
        var line = output.Split('\n').Single(l => l.StartsWith("load_hub ", StringComparison.Ordinal));
        foreach (var parameter in new[] { "repo", "config", "subset", "split", "revision", "columns", "token_env", "endpoint", "cache_dir" })
        {
            Assert.Contains(parameter, line);
        }
    }

    private static string? Text(JsonElement row, string column) => row.GetProperty(column).GetString();

    private static List<(string? Instruction, string? Topic, long? N)> DuckRows(string parquet)
    {
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT instruction, topic, n FROM read_parquet('{parquet.Replace("'", "''")}', file_row_number = true) ORDER BY file_row_number";
        using var reader = command.ExecuteReader();
        var rows = new List<(string?, string?, long?)>();
        while (reader.Read())
        {
            rows.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2)));
        }

        return rows;
    }
}

namespace Distil.Hub.Tests;

[Collection("HF environment")]
public sealed class PublishCommandLine
{
    [Fact]
    public async Task Publish_uploads_a_run_folder_with_the_token_from_HF_TOKEN()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);
        using var environment = new EnvironmentScope(("HF_TOKEN", hub.Token));

        var (exit, output, error) = await CliRunner.PublishAsync(run, "--repo", "alice/cli-set", "--private", "--endpoint", hub.Server.Endpoint, "-m", "from the CLI");

        Assert.True(exit == 0, error);
        Assert.Contains($"Published 3 files to {hub.Server.Endpoint}/datasets/alice/cli-set", output);
        Assert.Contains("  data/train-00000-of-00001.parquet", output);
        var repo = hub.Server.Repo("alice/cli-set");
        Assert.True(repo.Private);
        Assert.Equal(["from the CLI"], repo.Commits);
        Assert.Empty(hub.Server.Violations);
    }

    [Fact]
    public async Task Publish_reads_the_token_file_named_by_HF_TOKEN_PATH()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);
        var tokenFile = Path.Combine(hub.Folder, "token");
        await File.WriteAllTextAsync(tokenFile, hub.Token + "\n");
        using var environment = new EnvironmentScope(("HF_TOKEN", null), ("HF_TOKEN_PATH", tokenFile));

        var (exit, _, error) = await CliRunner.PublishAsync(run, "--repo", "alice/cli-set", "--endpoint", hub.Server.Endpoint);

        Assert.True(exit == 0, error);
        Assert.Single(hub.Server.Repo("alice/cli-set").Commits);
    }

    [Fact]
    public async Task A_refused_token_exits_1_with_a_message_naming_the_token_file()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);
        var tokenFile = Path.Combine(hub.Folder, "token");
        var wrong = "hf_revoked_" + Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(tokenFile, wrong);
        using var environment = new EnvironmentScope(("HF_TOKEN", null), ("HF_TOKEN_PATH", tokenFile));

        var (exit, output, error) = await CliRunner.PublishAsync(run, "--repo", "alice/cli-set", "--endpoint", hub.Server.Endpoint);

        Assert.Equal(1, exit);
        Assert.Contains($"distil publish: the Hub refused the token (the file {tokenFile})", error);
        Assert.DoesNotContain(wrong, output + error);
    }

    [Fact]
    public async Task Without_repo_or_to_dir_the_command_says_what_to_give()
    {
        var (exit, _, error) = await CliRunner.PublishAsync("/tmp");

        Assert.Equal(2, exit);
        Assert.Contains("give --repo namespace/name (upload) or --to-dir DIR", error);
    }

    [Fact]
    public async Task A_bad_repo_id_is_explained()
    {
        using var folder = new TempFolder();
        var run = await TestDatasets.CreateRunFolderAsync(folder.Path);
        using var environment = new EnvironmentScope(("HF_TOKEN", "hf_unused"));

        var (exit, _, error) = await CliRunner.PublishAsync(run, "--repo", "no-namespace");
        var (doubleDash, _, doubleDashError) = await CliRunner.PublishAsync(run, "--repo", "me/x--y");

        // Invalid input, found locally before any request: exit 2 (README's exit codes).
        Assert.Equal(2, exit);
        Assert.Contains("'no-namespace' is not a Hub repository id: use namespace/name", error);
        Assert.Equal(2, doubleDash);
        Assert.Contains("'me/x--y' is not a Hub repository id", doubleDashError);
    }

    /// <summary>
    /// Exercises every path that handles the token — success, retries, a server echoing it in an error,
    /// a refusal, --to-dir — and searches everything produced: stdout, stderr, files written locally and
    /// committed to the repository.
    /// </summary>
    [Fact]
    public async Task The_token_appears_in_no_output()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Server.MultipartThreshold = 32 * 1024;
        hub.Server.ChunkSize = 16 * 1024;
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder, rows: 600);
        var produced = new List<string>();
        using var environment = new EnvironmentScope(("HF_TOKEN", hub.Token));

        hub.Server.FailNext(r => r.Path.Value!.EndsWith("/part/2", StringComparison.Ordinal), FaultKind.ServiceUnavailable);
        hub.Server.FailNext(r => r.Path.Value!.Contains("/preupload/", StringComparison.Ordinal), FaultKind.EchoAuthorization);
        var ok = await CliRunner.PublishAsync(run, "--repo", "alice/leak-check", "--endpoint", hub.Server.Endpoint);
        Assert.True(ok.ExitCode == 0, ok.Error);
        Assert.Contains("warning: ", ok.Error);
        produced.Add(ok.Output + ok.Error);

        hub.Server.FailNext(r => r.Path.Value!.Contains("/commit/", StringComparison.Ordinal), FaultKind.EchoAuthorization, times: 10);
        var failed = await CliRunner.PublishAsync(run, "--repo", "alice/leak-check", "--endpoint", hub.Server.Endpoint);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("Bearer ***", failed.Error);
        produced.Add(failed.Output + failed.Error);

        var export = Path.Combine(hub.Folder, "export");
        var exported = await CliRunner.PublishAsync(run, "--to-dir", export, "--repo", "alice/leak-check");
        Assert.Equal(0, exported.ExitCode);
        produced.Add(exported.Output + exported.Error);

        foreach (var text in produced)
        {
            Assert.DoesNotContain(hub.Token, text);
        }

        var files = Directory.EnumerateFiles(export, "*", SearchOption.AllDirectories).Select(File.ReadAllBytes)
            .Concat(hub.Server.Repo("alice/leak-check").Files.Values)
            .ToList();
        Assert.Equal(6, files.Count);
        var needle = System.Text.Encoding.UTF8.GetBytes(hub.Token);
        Assert.All(files, bytes => Assert.True(bytes.AsSpan().IndexOf(needle) < 0));
        Assert.Empty(hub.Server.Violations);
    }
}

namespace Distil.Hub.Tests;

[Collection("HF environment")]
public sealed class TokenHandling
{
    [Fact]
    public async Task A_refused_token_gives_a_clear_message_naming_its_source_not_the_token()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);
        var wrong = "hf_wrong_" + Guid.NewGuid().ToString("N");

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(run, hub.Options(token: wrong), CancellationToken.None));

        Assert.StartsWith("the Hub refused the token (the environment variable HF_TOKEN)", error.Message);
        Assert.Contains("401", error.Message);
        Assert.Equal(401, error.StatusCode);
        Assert.DoesNotContain(wrong, error.ToString());
        Assert.DoesNotContain(hub.Log.Lines, l => l.Contains(wrong, StringComparison.Ordinal));
        Assert.Empty(hub.Server.Repos);
    }

    [Fact]
    public async Task A_token_echoed_by_the_server_is_redacted_from_the_error()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);
        hub.Server.FailNext(r => r.Path.Value!.Contains("/preupload/", StringComparison.Ordinal), FaultKind.EchoAuthorization, times: 4);

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None));

        Assert.Contains("internal error while handling Bearer ***", error.Message);
        Assert.DoesNotContain(hub.Token, error.ToString());
        Assert.DoesNotContain(hub.Log.Lines, l => l.Contains(hub.Token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_token_goes_to_the_Hub_and_never_to_storage_urls()
    {
        await using var hub = await TestHub.StartAsync();
        var run = await TestDatasets.CreateRunFolderAsync(hub.Folder);

        await HubPublisher.PublishAsync(run, hub.Options(), CancellationToken.None);

        var headers = hub.Server.AuthorizationHeaders.ToList();
        Assert.All(headers.Where(h => h.Path.StartsWith("/storage/", StringComparison.Ordinal)), h => Assert.Null(h.Authorization));
        Assert.All(headers.Where(h => !h.Path.StartsWith("/storage/", StringComparison.Ordinal)), h => Assert.Equal($"Bearer {hub.Token}", h.Authorization));
        Assert.Contains(headers, h => h.Path.StartsWith("/storage/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_token_with_impossible_characters_is_refused_without_quoting_it()
    {
        var error = Assert.Throws<HubPublishException>(() => new HubToken("hf_secret part\u0001two", "the file /x/token"));

        Assert.Equal("the token from the file /x/token contains characters a token cannot have (spaces, control or non-ASCII characters)", error.Message);
    }

    [Fact]
    public void HF_TOKEN_comes_first()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "token"), "from-file");
        var token = HubToken.Resolve(Env(("HF_TOKEN", "from-env"), ("HF_HOME", folder.Path)));

        Assert.Equal("from-env", token!.Value);
        Assert.Equal("the environment variable HF_TOKEN", token.Source);
        Assert.DoesNotContain("from-env", token.ToString());
    }

    [Fact]
    public void HF_TOKEN_PATH_names_the_token_file()
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "my-token");
        File.WriteAllText(path, "  from-path\n");
        var token = HubToken.Resolve(Env(("HF_TOKEN_PATH", path), ("HF_HOME", "/nonexistent")));

        Assert.Equal("from-path", token!.Value);
        Assert.Equal($"the file {path}", token.Source);
    }

    [Fact]
    public void The_token_file_is_read_from_HF_HOME_else_the_user_cache()
    {
        using var folder = new TempFolder();
        Directory.CreateDirectory(Path.Combine(folder.Path, ".cache", "huggingface"));
        File.WriteAllText(Path.Combine(folder.Path, ".cache", "huggingface", "token"), "from-cache\n");
        Directory.CreateDirectory(Path.Combine(folder.Path, "hf"));
        File.WriteAllText(Path.Combine(folder.Path, "hf", "token"), "from-hf-home");

        Assert.Equal("from-hf-home", HubToken.Resolve(Env(("HF_HOME", Path.Combine(folder.Path, "hf")), ("HOME", folder.Path)))!.Value);
        Assert.Equal("from-cache", HubToken.Resolve(Env(("HOME", folder.Path)))!.Value);
        Assert.Null(HubToken.Resolve(Env(("HOME", Path.Combine(folder.Path, "nobody")))));
    }

    [Fact]
    public async Task No_token_at_all_says_where_to_put_one()
    {
        using var folder = new TempFolder();
        var run = await TestDatasets.CreateRunFolderAsync(folder.Path);
        var options = new PublishOptions { Repo = "alice/x", Endpoint = "http://127.0.0.1:9", Token = null };
        using var environment = new EnvironmentScope(("HF_TOKEN", null), ("HF_TOKEN_PATH", Path.Combine(folder.Path, "no-such-token")));

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(run, options, CancellationToken.None));

        Assert.Contains("no Hugging Face token: set HF_TOKEN", error.Message);
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] values) =>
        name => values.FirstOrDefault(v => v.Name == name).Value;
}

internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "distil-hub-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Sets environment variables for a test and restores them after.</summary>
internal sealed class EnvironmentScope : IDisposable
{
    private readonly (string Name, string? Value)[] _previous;

    public EnvironmentScope(params (string Name, string? Value)[] values)
    {
        _previous = values.Select(v => (v.Name, Environment.GetEnvironmentVariable(v.Name))).ToArray();
        foreach (var (name, value) in values)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    public void Dispose()
    {
        foreach (var (name, value) in _previous)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }
}

using Microsoft.Extensions.Logging;

namespace Distil.Hub;

/// <summary>Which split of which Hub dataset to read, from where, and where to keep the downloaded files.</summary>
public sealed record HubDatasetOptions
{
    /// <summary>The dataset repository, <c>namespace/name</c>.</summary>
    public required string Repo { get; init; }

    /// <summary>The config (subset); null: the dataset's default.</summary>
    public string? Config { get; init; }

    public string Split { get; init; } = "train";

    /// <summary>A branch, tag or commit; resolved to a commit sha before anything is read.</summary>
    public string Revision { get; init; } = "main";

    public string Endpoint { get; init; } = PublishOptions.DefaultEndpoint;

    /// <summary>Null: anonymous (public datasets).</summary>
    public HubToken? Token { get; init; }

    /// <summary>Downloaded files live in <c>CacheDirectory/datasets/&lt;namespace&gt;/&lt;name&gt;/&lt;sha&gt;/&lt;path&gt;</c>.</summary>
    public required string CacheDirectory { get; init; }

    public HubRetryPolicy Retry { get; init; } = HubRetryPolicy.Default;

    public ILogger? Logger { get; init; }

    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>The cache folder when none is given: <c>$XDG_CACHE_HOME/distil/hub</c> (<c>~/.cache/distil/hub</c>).</summary>
    public static string DefaultCacheDirectory(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var cache = environment("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "distil", "hub");
    }
}

using Distil.Hub;
using Microsoft.Extensions.Logging;

namespace Distil.Steps;

/// <summary>
/// Run-wide settings for load_hub that come from outside the definition: the command line
/// (<c>--hub-endpoint</c>, <c>--hub-cache</c>), the environment, and, in tests, a retry policy.
/// </summary>
public sealed record HubSourceSettings
{
    /// <summary>Overrides every other endpoint (the step's <c>endpoint</c>, HF_ENDPOINT): point a shipped pipeline at a mirror or a local Hub.</summary>
    public string? Endpoint { get; init; }

    /// <summary>Download cache; the step's <c>cache_dir</c> wins over it. Default <see cref="HubDatasetOptions.DefaultCacheDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Where HF_TOKEN, HF_ENDPOINT, the variable named by token_env and HF_HOME are read.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    public HubRetryPolicy Retry { get; init; } = HubRetryPolicy.Default;

    /// <summary>Receives retry notices and resumed downloads.</summary>
    public ILogger? Logger { get; init; }

    public static HubSourceSettings Default { get; } = new();
}

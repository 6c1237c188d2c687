using Microsoft.Extensions.Logging;

namespace Distil.Hub;

/// <summary>How and where to publish a dataset. Either <see cref="Repo"/> (upload) or <see cref="ToDirectory"/> (air-gapped copy) is needed.</summary>
public sealed record PublishOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Target dataset repository, <c>namespace/name</c>.</summary>
    public string? Repo { get; init; }

    public bool Private { get; init; }

    /// <summary>Base URL of the Hub, or of any server that speaks the same API.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Branch to commit to.</summary>
    public string Revision { get; init; } = "main";

    /// <summary>When set, the repository layout is written to this folder instead of being uploaded.</summary>
    public string? ToDirectory { get; init; }

    /// <summary>The token; when null, <see cref="HubToken.Resolve"/> finds it (HF_TOKEN, then the token file).</summary>
    public HubToken? Token { get; init; }

    public string? CommitMessage { get; init; }

    /// <summary>
    /// Makes a retried publish commit once: the text goes into the commit's description, and when a commit on the
    /// branch already carries it nothing is uploaded and that commit is returned. The commit also names the head it
    /// was prepared against (<c>parentCommit</c>), so a racing duplicate is refused by the Hub rather than committed.
    /// Null (the default) commits unconditionally.
    /// </summary>
    public string? CommitMarker { get; init; }

    /// <summary>Row groups larger than this are re-split so that the dataset viewer can page through them.</summary>
    public int MaxRowsPerRowGroup { get; init; } = 100_000;

    /// <summary>LFS objects and parts uploaded at once.</summary>
    public int UploadConcurrency { get; init; } = 4;

    public HubRetryPolicy Retry { get; init; } = HubRetryPolicy.Default;

    public ILogger? Logger { get; init; }

    /// <summary>Overrides the HTTP handler (a proxy, a test server's handler). The publisher disposes nothing it did not create.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }
}

namespace Distil.Hub;

/// <summary>What a publish did.</summary>
/// <param name="Files">The repository's files (for --to-dir, at their place in that folder).</param>
/// <param name="RepoUrl">The dataset's page, for an upload.</param>
/// <param name="CommitUrl">The commit the Hub made, when it says.</param>
/// <param name="LfsBytesUploaded">File bytes sent to LFS storage (0 when the Hub already had every object).</param>
/// <param name="LfsFilesSkipped">LFS files not sent because the Hub already had their bytes.</param>
public sealed record PublishResult(
    IReadOnlyList<RepoFile> Files,
    string? RepoUrl,
    string? CommitUrl,
    string? CommitOid,
    long LfsBytesUploaded,
    int LfsFilesSkipped)
{
    /// <summary>True when the Hub already had a commit carrying <see cref="PublishOptions.CommitMarker"/>, which is returned instead of a new one.</summary>
    public bool AlreadyPublished { get; init; }
}

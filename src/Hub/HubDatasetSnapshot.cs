namespace Distil.Hub;

/// <summary>
/// One split of a Hub dataset pinned to a commit: the files to read in order. Everything a rerun needs to read
/// the same bytes again, and what the run fingerprint and manifest record.
/// </summary>
/// <param name="Sha">The commit the requested revision resolved to.</param>
/// <param name="FilesRevision">The commit the files are read at: <paramref name="Sha"/>, or the Parquet conversion branch's commit.</param>
/// <param name="FromConversion">True when the repository holds no Parquet and the Hub's conversion (refs/convert/parquet) is read.</param>
public sealed record HubDatasetSnapshot(
    string Repo,
    string Revision,
    string Sha,
    string Config,
    string Split,
    string FilesRevision,
    bool FromConversion,
    IReadOnlyList<HubRepoEntry> Files)
{
    /// <summary>hf://datasets/&lt;repo&gt;@&lt;sha&gt;/&lt;config&gt;/&lt;split&gt;, plus the conversion commit when one is read.</summary>
    public override string ToString() =>
        $"hf://datasets/{Repo}@{Sha}/{Config}/{Split}" + (FromConversion ? $" (parquet conversion @{FilesRevision})" : "");
}

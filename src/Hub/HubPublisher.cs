using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Hub;

/// <summary>
/// Publishes a dataset to the Hugging Face Hub (or any server with the same API), or writes the same
/// repository layout to a folder. The one commit at the end is what makes anything visible: a failure
/// before it leaves the repository as it was, and a rerun skips the LFS objects already uploaded.
/// </summary>
public static class HubPublisher
{
    /// <summary>Publishes the dataset of a run folder (see <see cref="DatasetSource.FromFolder"/>).</summary>
    public static Task<PublishResult> PublishAsync(string folder, PublishOptions options, CancellationToken cancellationToken) =>
        PublishAsync(DatasetSource.FromFolder(folder), options, cancellationToken);

    public static async Task<PublishResult> PublishAsync(DatasetSource source, PublishOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        var logger = options.Logger ?? NullLogger.Instance;
        HubRepoId? repo = null;
        if (options.Repo is not null)
        {
            try
            {
                repo = HubRepoId.Parse(options.Repo);
            }
            catch (ArgumentException e)
            {
                throw new HubPublishException(e.Message);
            }
        }

        var title = repo?.ToString() ?? source.PipelineName ?? Path.GetFileName(source.Folder);
        if (options.ToDirectory is { } directory)
        {
            var written = await RepoLayout.WriteToDirectoryAsync(source, directory, title, options.MaxRowsPerRowGroup, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Wrote {Count} files to {Directory}", written.Count, Path.GetFullPath(directory));
            return new PublishResult(written, null, null, null, 0, 0);
        }

        if (repo is null)
        {
            throw new HubPublishException("no repository given: name one (namespace/name) or a folder to write to");
        }

        var token = options.Token ?? HubToken.Resolve()
            ?? throw new HubPublishException(
                "no Hugging Face token: set HF_TOKEN, or save one in $HF_HOME/token (default ~/.cache/huggingface/token; HF_TOKEN_PATH names another file)");
        if (!Uri.TryCreate(options.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
        {
            throw new HubPublishException($"'{options.Endpoint}' is not an http(s) URL of a Hub");
        }

        // Generated files (card, re-split shards) are staged beside the data, on the disk that holds it, not in /tmp.
        var work = Path.Combine(source.Folder, ".distil-publish-" + Guid.NewGuid().ToString("N"));
        try
        {
            var files = await RepoLayout.BuildAsync(source, work, title, options.MaxRowsPerRowGroup, cancellationToken).ConfigureAwait(false);
            using var http = new HubHttp(endpoint, token, options.Retry, logger, options.HttpHandler);
            return await UploadAsync(http, repo, files, options, logger, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static async Task<PublishResult> UploadAsync(HubHttp http, HubRepoId repo, IReadOnlyList<RepoFile> files, PublishOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var client = new HubClient(http, repo);
        var digests = new List<(RepoFile File, FileDigest Digest)>();
        foreach (var file in files)
        {
            digests.Add((file, await FileDigest.ComputeAsync(file.LocalPath, cancellationToken).ConfigureAwait(false)));
        }

        if (await client.CreateRepoAsync(options.Private, cancellationToken).ConfigureAwait(false))
        {
            logger.LogInformation("Created the dataset repository {Repo}{Visibility}", repo, options.Private ? " (private)" : "");
        }

        var repoUrl = new Uri(http.Endpoint, $"datasets/{repo}").ToString();
        string? parent = null;
        if (options.CommitMarker is { } marker)
        {
            // A publish retried after its commit went through (the process died before it could note the answer)
            // finds its own commit by the marker instead of committing the same dataset again.
            if (await client.FindCommitAsync(options.Revision, marker, cancellationToken).ConfigureAwait(false) is { } earlier)
            {
                logger.LogInformation("{Repo} already has this dataset (commit {Commit} carries '{Marker}'); not committing again", repo, earlier, marker);
                return new PublishResult(files, repoUrl, client.CommitUrl(earlier), earlier, 0, 0) { AlreadyPublished = true };
            }

            parent = await client.GetHeadAsync(options.Revision, cancellationToken).ConfigureAwait(false);
        }

        var modes = await client.PreuploadAsync(options.Revision, digests.Select(d => (d.File.PathInRepo, d.Digest)).ToList(), cancellationToken).ConfigureAwait(false);
        var lfs = digests.Where(d => modes.TryGetValue(d.File.PathInRepo, out var isLfs) && isLfs).ToList();
        var regular = digests.Where(d => modes.TryGetValue(d.File.PathInRepo, out var isLfs) && !isLfs).Select(d => d.File).ToList();

        var uploader = new LfsUploader(http, options.UploadConcurrency, logger);
        var skipped = 0;
        if (lfs.Count > 0)
        {
            var actions = (await client.LfsBatchAsync(options.Revision, lfs.Select(d => d.Digest).ToList(), cancellationToken).ConfigureAwait(false))
                .ToDictionary(a => a.Oid, StringComparer.OrdinalIgnoreCase);
            var missing = lfs.FirstOrDefault(d => !actions.ContainsKey(d.Digest.Sha256));
            if (missing.File is not null)
            {
                throw new HubPublishException($"LFS batch request: the server did not answer for {missing.File.PathInRepo} (oid {missing.Digest.Sha256})");
            }

            // Identical shards share one object; it is uploaded once.
            var work = lfs.DistinctBy(d => d.Digest.Sha256).ToList();
            skipped = lfs.Count(d => actions[d.Digest.Sha256].Upload is null);
            foreach (var known in lfs.Where(d => actions[d.Digest.Sha256].Upload is null))
            {
                logger.LogInformation("{Path}: the Hub already has these bytes, not uploading", known.File.PathInRepo);
            }

            await Parallel.ForEachAsync(
                work,
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.UploadConcurrency), CancellationToken = cancellationToken },
                async (item, ct) => await uploader.UploadAsync(item.File, item.Digest, actions[item.Digest.Sha256], ct).ConfigureAwait(false)).ConfigureAwait(false);
        }

        var summary = options.CommitMessage ?? "Upload dataset with Distil";
        string? commitUrl, commitOid;
        try
        {
            (commitUrl, commitOid) = await client.CommitAsync(
                options.Revision,
                summary,
                regular,
                lfs.Select(d => (d.File.PathInRepo, d.Digest)).ToList(),
                cancellationToken,
                options.CommitMarker ?? "",
                parent).ConfigureAwait(false);
        }
        catch (HubPublishException e) when (e.StatusCode == (int)HttpStatusCode.PreconditionFailed && options.CommitMarker is { } retryMarker)
        {
            // The branch moved since its head was read: a racing attempt of the same publish may have committed.
            if (await client.FindCommitAsync(options.Revision, retryMarker, cancellationToken).ConfigureAwait(false) is { } raced)
            {
                return new PublishResult(files, repoUrl, client.CommitUrl(raced), raced, uploader.BytesSent, skipped) { AlreadyPublished = true };
            }

            throw;
        }

        logger.LogInformation("Published {Count} files to {Url}", regular.Count + lfs.Count, repoUrl);
        return new PublishResult(files, repoUrl, commitUrl, commitOid, uploader.BytesSent, skipped);
    }
}

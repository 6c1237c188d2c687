using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Hub;

/// <summary>
/// Reads a Hub dataset's split as Parquet files: resolves the revision to a commit (<c>/api/datasets/&lt;repo&gt;/revision/&lt;rev&gt;</c>),
/// lists the repository tree at that commit (<c>/api/datasets/&lt;repo&gt;/tree/&lt;sha&gt;?recursive=true</c>, following
/// <c>Link: rel="next"</c> pages), picks the config's and split's Parquet files (<see cref="HubDataFiles"/>), and
/// falls back to the Hub's Parquet conversion branch (refs/convert/parquet) when the repository holds none.
/// Files are fetched one at a time on demand through <see cref="HubDownloadCache"/>.
/// </summary>
public sealed class HubDataset : IDisposable
{
    private const string ConversionBranch = "refs/convert/parquet";

    private readonly HubDatasetOptions _options;
    private readonly HubHttp _http;
    private readonly HubRepoId _repo;
    private readonly HubDownloadCache _cache;

    public HubDataset(HubDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        try
        {
            _repo = HubRepoId.Parse(options.Repo);
        }
        catch (ArgumentException e)
        {
            throw new HubDatasetException("repo", e.Message);
        }

        var endpoint = new Uri(options.Endpoint.EndsWith('/') ? options.Endpoint : options.Endpoint + "/");
        var logger = options.Logger ?? NullLogger.Instance;
        _http = new HubHttp(endpoint, options.Token, options.Retry, logger, options.HttpHandler);
        _cache = new HubDownloadCache(_http, options.Retry, logger);
    }

    /// <summary>Pins the revision to a commit and lists the split's files (no data is downloaded).</summary>
    public async Task<HubDatasetSnapshot> ResolveAsync(CancellationToken cancellationToken)
    {
        var (sha, cardConfigs) = await RevisionAsync(_options.Revision, "revision", cancellationToken).ConfigureAwait(false);
        var layout = HubDataFiles.FromRepository(await TreeAsync(sha, cancellationToken).ConfigureAwait(false), cardConfigs);
        var filesRevision = sha;
        var converted = layout.IsEmpty;
        if (converted)
        {
            string conversionSha;
            try
            {
                (conversionSha, _) = await RevisionAsync(ConversionBranch, "revision", cancellationToken).ConfigureAwait(false);
            }
            catch (HubDatasetException)
            {
                throw new HubDatasetException("repo", $"dataset {_repo} has no Parquet files at {_options.Revision} and no Parquet conversion ({ConversionBranch}) on {_http.Endpoint}");
            }

            layout = HubDataFiles.FromConversion(await TreeAsync(conversionSha, cancellationToken).ConfigureAwait(false));
            filesRevision = conversionSha;
        }

        var config = _options.Config ?? layout.DefaultConfig
            ?? throw new HubDatasetException("config", $"dataset {_repo} has several configs and none is the default; name one in 'config': {string.Join(", ", layout.Configs.Keys.Order(StringComparer.Ordinal))}");
        if (!layout.Configs.TryGetValue(config, out var splits))
        {
            throw new HubDatasetException("config", $"dataset {_repo} has no config '{config}'; it has: {string.Join(", ", layout.Configs.Keys.Order(StringComparer.Ordinal))}");
        }

        if (!splits.TryGetValue(_options.Split, out var files) || files.Count == 0)
        {
            var known = splits.Where(s => s.Value.Count > 0).Select(s => s.Key).Order(StringComparer.Ordinal);
            throw new HubDatasetException("split", $"config '{config}' of dataset {_repo} has no split '{_options.Split}'; it has: {string.Join(", ", known)}");
        }

        return new HubDatasetSnapshot(_repo.ToString(), _options.Revision, sha, config, _options.Split, filesRevision, converted, files);
    }

    /// <summary>The local copy of <paramref name="file"/>, downloaded (or resumed) only when the cache lacks it.</summary>
    public Task<string> DownloadAsync(HubDatasetSnapshot snapshot, HubRepoEntry file, CancellationToken cancellationToken)
    {
        var local = Path.Combine(_options.CacheDirectory, "datasets", _repo.Namespace, _repo.Name, snapshot.FilesRevision, Path.Combine(file.Path.Split('/')));
        var url = new Uri(_http.Endpoint, $"datasets/{_repo}/resolve/{snapshot.FilesRevision}/{string.Join('/', file.Path.Split('/').Select(Uri.EscapeDataString))}");
        return _cache.GetAsync(url, file, local, cancellationToken);
    }

    private async Task<(string Sha, JsonElement? CardConfigs)> RevisionAsync(string revision, string field, CancellationToken cancellationToken)
    {
        var url = new Uri(_http.Endpoint, $"api/datasets/{_repo}/revision/{Uri.EscapeDataString(revision)}");
        try
        {
            using var json = await _http.SendForJsonAsync(() => new HttpRequestMessage(HttpMethod.Get, url), $"resolving {_repo}@{revision}", cancellationToken).ConfigureAwait(false);
            var root = json.RootElement;
            var sha = root.TryGetProperty("sha", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : throw new HubPublishException($"resolving {_repo}@{revision}: the answer has no 'sha'");
            JsonElement? configs = root.TryGetProperty("cardData", out var card) && card.ValueKind == JsonValueKind.Object && card.TryGetProperty("configs", out var c) ? c.Clone() : null;
            return (sha, configs);
        }
        catch (HubPublishException e) when (e.StatusCode is (int)HttpStatusCode.NotFound or (int)HttpStatusCode.Unauthorized or (int)HttpStatusCode.Forbidden)
        {
            throw await NotFoundAsync(revision, field, e, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Tells a missing repository (or a private one without a token) from a missing revision.</summary>
    private async Task<HubDatasetException> NotFoundAsync(string revision, string field, HubPublishException error, CancellationToken cancellationToken)
    {
        if (error.StatusCode != (int)HttpStatusCode.NotFound)
        {
            return _options.Token is null
                ? new HubDatasetException("repo", $"dataset {_repo} was not found on {_http.Endpoint}, or it is private or gated and no token was given: set HF_TOKEN (or name a variable in 'token_env')")
                : new HubDatasetException("token_env", $"dataset {_repo}: {error.Message}");
        }

        try
        {
            using var _ = await _http.SendForJsonAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(_http.Endpoint, $"api/datasets/{_repo}")), $"looking up {_repo}", cancellationToken).ConfigureAwait(false);
        }
        catch (HubPublishException)
        {
            return new HubDatasetException("repo", $"dataset {_repo} was not found on {_http.Endpoint}" + (_options.Token is null ? " (if it is private or gated, set HF_TOKEN or name a variable in 'token_env')" : ""));
        }

        return new HubDatasetException(field, $"dataset {_repo} has no revision '{revision}' (a branch, tag or commit)");
    }

    private async Task<IReadOnlyList<HubRepoEntry>> TreeAsync(string sha, CancellationToken cancellationToken)
    {
        var files = new List<HubRepoEntry>();
        Uri? next = new(_http.Endpoint, $"api/datasets/{_repo}/tree/{sha}?recursive=true&expand=false");
        while (next is not null)
        {
            var page = next;
            using var response = await _http.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, page), $"listing the files of {_repo}@{sha}", cancellationToken).ConfigureAwait(false);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            if (json.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new HubPublishException($"listing the files of {_repo}@{sha}: the answer is not a list");
            }

            foreach (var entry in json.RootElement.EnumerateArray())
            {
                if (entry.TryGetProperty("type", out var type) && type.GetString() == "file")
                {
                    var lfs = entry.TryGetProperty("lfs", out var l) && l.ValueKind == JsonValueKind.Object && l.TryGetProperty("oid", out var oid) ? oid.GetString() : null;
                    files.Add(new HubRepoEntry(entry.GetProperty("path").GetString()!, entry.GetProperty("size").GetInt64(), lfs));
                }
            }

            next = NextPage(response);
        }

        return files;
    }

    /// <summary>The <c>rel="next"</c> URL of a Link header, which the tree API uses to page long listings.</summary>
    private static Uri? NextPage(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var values))
        {
            return null;
        }

        foreach (var link in values.SelectMany(v => v.Split(',')))
        {
            var parts = link.Split(';');
            if (parts.Skip(1).Any(p => p.Trim() is "rel=\"next\"" or "rel=next"))
            {
                return new Uri(parts[0].Trim().TrimStart('<').TrimEnd('>'));
            }
        }

        return null;
    }

    public void Dispose() => _http.Dispose();
}

using System.Runtime.CompilerServices;
using Distil.Hub;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// load_hub: one split of a Hugging Face Hub dataset, streamed from its Parquet files (or the Hub's Parquet
/// conversion for datasets stored in other formats). The revision is pinned to a commit when the run starts;
/// that commit is part of the run fingerprint, so a rerun reads the same bytes (from the local cache) or,
/// when the branch moved, starts a new run. Files are downloaded one at a time as rows are needed, so
/// <c>--limit</c> fetches only the first file(s). Row ids are positions in the split: the files in path order,
/// rows in file order, which is stable for a commit and what resume and shards rely on.
/// </summary>
internal sealed class HubSource : ISourceStep
{
    public static readonly string[] Parameters = ["repo", "config", "subset", "split", "revision", "columns", "token_env", "endpoint", "cache_dir"];

    private readonly StepParameters _parameters;
    private readonly HubSourceSettings _settings;
    private readonly string _repo;
    private readonly string? _config;
    private readonly string _split;
    private readonly string _revision;
    private readonly IReadOnlyList<string>? _columns;
    private readonly string? _tokenEnv;
    private readonly string _endpoint;
    private readonly string _cacheDirectory;
    private HubDataset? _dataset;
    private Task<HubDatasetSnapshot>? _snapshot;

    public HubSource(StepParameters parameters, HubSourceSettings settings)
    {
        _parameters = parameters;
        _settings = settings;
        Name = parameters.Name;
        _repo = parameters.RequireString("repo");
        try
        {
            HubRepoId.Parse(_repo);
        }
        catch (ArgumentException e)
        {
            throw parameters.Error("repo", e.Message);
        }

        if (parameters.Has("config") && parameters.Has("subset"))
        {
            throw parameters.Error("subset", "give 'config' or its alias 'subset', not both");
        }

        var configKey = parameters.Has("subset") ? "subset" : "config";
        _config = NonEmpty(configKey);
        _split = NonEmpty("split") ?? "train";
        _revision = NonEmpty("revision") ?? "main";
        _columns = parameters.GetStringList("columns");
        if (_columns is { Count: 0 })
        {
            throw parameters.Error("columns", "'columns' must name at least one column (leave it out to take them all)");
        }

        _tokenEnv = NonEmpty("token_env");
        var fromStep = NonEmpty("endpoint");
        _endpoint = settings.Endpoint ?? fromStep ?? (settings.Environment("HF_ENDPOINT") is { Length: > 0 } fromEnv ? fromEnv : PublishOptions.DefaultEndpoint);
        if (!Uri.TryCreate(_endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            var source = settings.Endpoint is not null ? "--hub-endpoint" : fromStep is not null ? "'endpoint'" : "HF_ENDPOINT";
            throw parameters.Error(source == "'endpoint'" ? "endpoint" : null, $"the Hub endpoint '{_endpoint}' (from {source}) is not an http(s) URL");
        }

        _cacheDirectory = parameters.GetPath("cache_dir") ?? settings.CacheDirectory ?? HubDatasetOptions.DefaultCacheDirectory(settings.Environment);
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    /// <summary>Known before running only when listed in <c>columns</c> (the schema is in the files, fetched when the run starts).</summary>
    public IReadOnlyList<string> OutputColumns => _columns ?? [];

    public async ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => (await SnapshotAsync(cancellationToken)).ToString();

    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var snapshot = await SnapshotAsync(cancellationToken);
        var cursor = new RangeCursor(range);
        long firstId = 0;
        try
        {
            foreach (var file in snapshot.Files)
            {
                if (cursor.IsFull)
                {
                    yield break;
                }

                var local = await Run(() => Dataset().DownloadAsync(snapshot, file, cancellationToken));
                var layout = await ParquetRows.ReadLayoutAsync(local, _columns, Name, cancellationToken);
                var start = firstId;
                firstId += layout.Rows;
                if (firstId <= range.Offset)
                {
                    continue;
                }

                // One cursor across the files: the range's offset and limit count rows of the whole split.
                await foreach (var row in cursor.AdmitAsync(ParquetRows.ReadAsync(local, layout, start, range.Offset, cancellationToken), cancellationToken))
                {
                    yield return row;
                }
            }
        }
        finally
        {
            // Sources are not disposed by the runtime; the HTTP client goes when the reading ends.
            _dataset?.Dispose();
            _dataset = null;
        }
    }

    /// <summary>Resolves the revision and lists the files once per step instance (the fingerprint and the read share it).</summary>
    private Task<HubDatasetSnapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        if (_snapshot is null || _snapshot.IsFaulted || _snapshot.IsCanceled)
        {
            var dataset = Dataset();
            _snapshot = Run(() => dataset.ResolveAsync(cancellationToken));
        }

        return _snapshot;
    }

    private HubDataset Dataset() => _dataset ??= new HubDataset(new HubDatasetOptions
    {
        Repo = _repo,
        Config = _config,
        Split = _split,
        Revision = _revision,
        Endpoint = _endpoint,
        Token = ResolveToken(),
        CacheDirectory = _cacheDirectory,
        Retry = _settings.Retry,
        Logger = _settings.Logger,
    });

    /// <summary>Turns what the user must change (repo, config, split, revision, token) into an error located at that parameter.</summary>
    private async Task<T> Run<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (HubDatasetException e)
        {
            var field = e.Field == "config" && _parameters.Has("subset") ? "subset" : e.Field;
            throw _parameters.Error(field, $"step '{Name}': {e.Message}");
        }
    }

    private HubToken? ResolveToken()
    {
        if (_tokenEnv is not null)
        {
            var value = _settings.Environment(_tokenEnv);
            return string.IsNullOrWhiteSpace(value)
                ? throw _parameters.Error("token_env", $"step '{Name}': the environment variable {_tokenEnv} named by 'token_env' is not set")
                : new HubToken(value, $"the environment variable {_tokenEnv}");
        }

        return HubToken.Resolve(_settings.Environment);
    }

    private string? NonEmpty(string name) => _parameters.GetString(name) switch
    {
        null => null,
        { Length: 0 } => throw _parameters.Error(name, $"'{name}' must not be empty"),
        var value => value,
    };
}

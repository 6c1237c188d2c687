using Distil.Hub;
using Distil.Pipeline;
using Microsoft.Extensions.Logging;

namespace Distil.Steps;

/// <summary>
/// push_to_hub: writes its rows like write_parquet and the card like dataset_card (both run inside it, so
/// the card is complete before anything is published), then publishes the Parquet, the card and the pipeline
/// definition in one commit when the run completes. The token is checked when the run opens its sinks, so a
/// missing token fails the run before any model is called.
/// </summary>
internal sealed class PushToHub : ISinkStep, IHubPublishingStep, IAsyncDisposable
{
    public static readonly string[] OwnParameters =
        ["repo", "private", "endpoint", "token_env", "commit_message", "max_rows_per_row_group", "to_dir"];

    private readonly ISinkStep _parquet;
    private readonly ISinkStep? _card;
    private readonly StepParameters _parameters;
    private readonly PublishOptions _options;
    private readonly string? _tokenEnv;
    private ILogger? _logger;
    private string? _outputDirectory;

    /// <param name="parquet">The write_parquet sink made from the same parameters.</param>
    /// <param name="card">The dataset_card sink made from the same parameters, when that step type exists.</param>
    public PushToHub(StepParameters parameters, ISinkStep parquet, ISinkStep? card)
    {
        _parameters = parameters;
        _parquet = parquet;
        _card = card;
        Name = parameters.Name;
        var repo = parameters.GetString("repo");
        var toDir = parameters.GetPath("to_dir");
        if (repo is null && toDir is null)
        {
            throw parameters.Error("repo", $"step '{Name}' needs 'repo' (namespace/name) or 'to_dir'");
        }

        if (repo is not null)
        {
            try
            {
                HubRepoId.Parse(repo);
            }
            catch (ArgumentException e)
            {
                throw parameters.Error("repo", e.Message);
            }
        }

        var endpoint = parameters.GetString("endpoint") ?? PublishOptions.DefaultEndpoint;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw parameters.Error("endpoint", $"'{endpoint}' is not an http(s) URL");
        }

        var maxRows = parameters.GetInt32("max_rows_per_row_group", 100_000);
        if (maxRows < 1)
        {
            throw parameters.Error("max_rows_per_row_group", "'max_rows_per_row_group' must be at least 1");
        }

        _tokenEnv = parameters.GetString("token_env");
        _options = new PublishOptions
        {
            Repo = repo,
            Private = parameters.GetBoolean("private", false),
            Endpoint = endpoint,
            ToDirectory = toDir,
            CommitMessage = parameters.GetString("commit_message"),
            MaxRowsPerRowGroup = maxRows,
        };
    }

    public string Name { get; }

    public PublishOptions Target => _tokenEnv is null ? _options : _options with { Token = ResolveToken() };

    public bool Deferred { get; set; }

    public IReadOnlyList<string> InputColumns => _parquet.InputColumns;

    public IReadOnlyList<string> OutputColumns => [];

    public async ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken)
    {
        _logger = context.Logger;
        _outputDirectory = sink.OutputDirectory;
        if (_options.ToDirectory is null && !Deferred)
        {
            _ = ResolveToken();
        }

        await _parquet.OpenAsync(sink, context, cancellationToken);
        if (_card is not null)
        {
            await _card.OpenAsync(sink, context, cancellationToken);
        }
    }

    public async ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        await _parquet.WriteAsync(rows, cancellationToken);
        if (_card is not null)
        {
            await _card.WriteAsync(rows, cancellationToken);
        }
    }

    public async ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken)
    {
        var written = (await _parquet.CompleteAsync(cancellationToken)).ToList();
        var parquet = written.Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)).ToList();
        if (parquet.Count == 0)
        {
            throw new HubPublishException($"push_to_hub '{Name}': the Parquet writer produced no .parquet file (check 'path')");
        }

        var folder = Path.GetDirectoryName(parquet[0]) ?? _outputDirectory!;
        var cardFiles = _card is null ? [] : await _card.CompleteAsync(cancellationToken);
        written.AddRange(cardFiles);
        if (Deferred)
        {
            return written;
        }

        var card = cardFiles.FirstOrDefault(f => Path.GetFileName(f) == "README.md") ?? Path.Combine(folder, "README.md");
        var source = new DatasetSource(
            parquet,
            File.Exists(card) ? card : null,
            _parameters.File is { } definition && File.Exists(definition) ? definition : null,
            PipelineName(_parameters.File),
            folder);
        var options = _options with
        {
            Token = _options.ToDirectory is null ? ResolveToken() : null,
            Logger = _logger,
        };
        var result = await HubPublisher.PublishAsync(source, options, cancellationToken);
        _logger?.LogInformation("push_to_hub '{Step}': {Where}", Name, result.RepoUrl ?? options.ToDirectory);
        return written;
    }

    public async Task<PublishResult> PublishMergedAsync(SinkContext merged, TimeSpan elapsed, string? definitionFile, string commitMarker, ILogger? logger, CancellationToken cancellationToken, IReadOnlyList<ReviewEntry>? review = null)
    {
        var parquet = Path.GetFullPath(Path.Combine(merged.OutputDirectory, ((ParquetSink)_parquet).FileName));
        if (!File.Exists(parquet))
        {
            throw new HubPublishException($"push_to_hub '{Name}': the merged output has no {parquet}");
        }

        var folder = Path.GetDirectoryName(parquet)!;
        var cardFiles = _card is DatasetCardStep card ? await card.RecountAsync(merged, elapsed, cancellationToken) : [];
        var cardFile = cardFiles.FirstOrDefault(f => Path.GetFileName(f) == DatasetCardStep.FileName) ?? Path.Combine(folder, DatasetCardStep.FileName);
        var definition = definitionFile is not null && File.Exists(definitionFile) ? definitionFile : null;
        var source = new DatasetSource([parquet], File.Exists(cardFile) ? cardFile : null, definition, PipelineName(definition), folder);
        await using var reviewed = review is { Count: > 0 } ? await ReviewedDataset.PrepareAsync(source, review, cancellationToken) : null;
        var result = await HubPublisher.PublishAsync(reviewed?.Source ?? source, _options with
        {
            Token = _options.ToDirectory is null ? ResolveToken() : null,
            Logger = logger,
            CommitMarker = commitMarker,
        }, cancellationToken);
        logger?.LogInformation("push_to_hub '{Step}': {Where}", Name, result.CommitUrl ?? result.RepoUrl ?? _options.ToDirectory);
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var inner in new[] { _parquet, _card })
        {
            if (inner is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    private HubToken ResolveToken()
    {
        if (_tokenEnv is not null)
        {
            var value = Environment.GetEnvironmentVariable(_tokenEnv);
            return string.IsNullOrWhiteSpace(value)
                ? throw _parameters.Error("token_env", $"step '{Name}': the environment variable {_tokenEnv} named by 'token_env' is not set")
                : new HubToken(value, $"the environment variable {_tokenEnv}");
        }

        return HubToken.Resolve()
            ?? throw _parameters.Error(
                null,
                $"step '{Name}' publishes to the Hub but no token is set: set HF_TOKEN (or name another variable in 'token_env'), or save one in $HF_HOME/token");
    }

    /// <summary>The definition's <c>name</c>, for the generated card.</summary>
    private static string? PipelineName(string? definitionFile)
    {
        if (definitionFile is null || !File.Exists(definitionFile))
        {
            return null;
        }

        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(
                File.ReadAllText(definitionFile),
                new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return json.RootElement.TryGetProperty("name", out var name) && name.ValueKind == System.Text.Json.JsonValueKind.String ? name.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

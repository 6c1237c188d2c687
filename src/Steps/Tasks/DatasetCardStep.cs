using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Distil.Hub;
using Distil.Judge;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// <c>dataset_card</c>: a sink that writes the Hugging Face dataset card (README.md) into the output folder next
/// to the Parquet files. It streams: it keeps counts (rows, rating histogram, chosen/rejected per model, token
/// column sums), never the rows, and writes the card atomically when the run completes.
/// </summary>
public sealed class DatasetCardStep : ISinkStep
{
    public static readonly StepType Type = new(
        "dataset_card",
        ["data_files", "pretty_name", "tags"],
        p => new DatasetCardStep(p),
        "writes README.md (Hugging Face dataset card) next to the dataset");

    public const string FileName = "README.md";

    private static readonly string[] DefaultTags = ["dpo", "synthetic", "distil", "ultrafeedback"];

    private readonly IReadOnlyList<string> _dataFiles;
    private readonly string _prettyName;
    private readonly IReadOnlyList<string> _tags;
    private readonly string? _definition;
    private readonly Dictionary<double, long> _histogram = [];
    private readonly Dictionary<string, (long Chosen, long Rejected)> _wins = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _judges = new(StringComparer.Ordinal);
    private readonly LengthBias _lengthBias = new();
    private readonly Stopwatch _clock = new();
    private string? _outputDirectory;
    private IReadOnlyList<ModelIdentity> _models = [];
    private Func<IReadOnlyList<StepMetrics>> _stepMetrics = () => [];
    private long? _flaggedContaminated;
    private long _rows;
    private long _inputTokens;
    private long _outputTokens;
    private TimeSpan? _elapsed;

    private readonly IReadOnlyList<ConfigFiles>? _configs;

    /// <summary>Set by format_outputs once its files are written: each configuration's columns and rows per split.</summary>
    internal IReadOnlyList<ConfigContents>? ConfigContents { get; set; }

    /// <param name="configs">The configurations and splits the card lists (format_outputs); null: <c>data_files</c> as one default configuration.</param>
    /// <param name="pairFiles">With <paramref name="configs"/>: the files holding one row per pair, which <see cref="RecountAsync"/> counts.</param>
    public DatasetCardStep(StepParameters parameters, IReadOnlyList<ConfigFiles>? configs = null, IReadOnlyList<string>? pairFiles = null)
    {
        _configs = configs;
        Name = parameters.Name;
        _dataFiles = pairFiles ?? parameters.GetStringList("data_files") ?? ["*.parquet"];
        if (_dataFiles.Count == 0 || _dataFiles.Any(f => Path.IsPathRooted(f) || f.Contains("..", StringComparison.Ordinal)))
        {
            throw parameters.Error("data_files", "'data_files' must list paths relative to the output folder, e.g. \"data.parquet\"");
        }

        _definition = parameters.File is { } file && File.Exists(file) ? File.ReadAllText(file) : null;
        _prettyName = parameters.GetString("pretty_name") ?? PipelineName(_definition) ?? "distil-dataset";
        var extraTags = parameters.GetStringList("tags") ?? [];
        _tags = DefaultTags.Concat(extraTags).Distinct(StringComparer.Ordinal).ToList();
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns { get; } = [];

    public IReadOnlyList<string> OutputColumns { get; } = [];

    public ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken)
    {
        _outputDirectory = sink.OutputDirectory;
        _models = sink.Models;
        _stepMetrics = sink.StepMetrics;
        _clock.Start();
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            _rows++;
            if (row["ratings"] is IReadOnlyList<object?> ratings)
            {
                foreach (var rating in ratings)
                {
                    if (rating is long or double)
                    {
                        var key = Convert.ToDouble(rating, System.Globalization.CultureInfo.InvariantCulture);
                        _histogram[key] = _histogram.GetValueOrDefault(key) + 1;
                    }
                }
            }

            if (row.GetString("chosen_model") is { } chosen)
            {
                var (c, r) = _wins.GetValueOrDefault(chosen);
                _wins[chosen] = (c + 1, r);
            }

            if (row.GetString("rejected_model") is { } rejected)
            {
                var (c, r) = _wins.GetValueOrDefault(rejected);
                _wins[rejected] = (c, r + 1);
            }

            if (row["chosen_tokens"] is long chosenTokens && row["rejected_tokens"] is long rejectedTokens
                && Number(row["chosen_rating"]) is { } chosenRating && Number(row["rejected_rating"]) is { } rejectedRating)
            {
                _lengthBias.AddPair(chosenRating, chosenTokens, rejectedRating, rejectedTokens);
            }

            if (row[Decontaminate.Contaminated] is bool contaminated)
            {
                _flaggedContaminated = (_flaggedContaminated ?? 0) + (contaminated ? 1 : 0);
            }

            if (row.GetString("judge_model") is { } judge)
            {
                _judges.Add(judge);
            }

            foreach (var (column, value) in row.Values)
            {
                if (value is long count)
                {
                    if (column.EndsWith(TokenColumns.InputSuffix, StringComparison.Ordinal))
                    {
                        _inputTokens += count;
                    }
                    else if (column.EndsWith(TokenColumns.OutputSuffix, StringComparison.Ordinal))
                    {
                        _outputTokens += count;
                    }
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken)
    {
        var directory = _outputDirectory ?? throw new InvalidOperationException("the dataset card was not opened");
        var summary = new DatasetSummary
        {
            PrettyName = _prettyName,
            DataFiles = _dataFiles,
            Configs = _configs,
            ConfigContents = ConfigContents,
            Rows = _rows,
            Tags = _tags,
            RatingHistogram = _histogram,
            ModelWins = _wins,
            JudgeModels = _judges.ToList(),
            InputTokens = _inputTokens,
            OutputTokens = _outputTokens,
            LengthBias = _lengthBias,
            Elapsed = _elapsed ?? _clock.Elapsed,
            PipelineDefinition = _definition,
            ModelIdentities = _models.Select(m => (m.Name, m.Digest, m.Description)).ToList(),
            Spend = _stepMetrics().Where(s => s is { CostUsd: not null, Model: not null })
                .Select(s => (s.Name, s.Model!, s.InputTokens, s.OutputTokens, s.CostUsd!.Value)).ToList(),
            Filtering = Filtering(),
            Agreement = _stepMetrics().Where(s => s.Tallies.ContainsKey(PairwiseJudgeStep.Judged))
                .Select(s => ($"position-consistent verdicts (`{s.Name}`, both orders)", s.Tallies.GetValueOrDefault(PairwiseJudgeStep.Consistent), s.Tallies[PairwiseJudgeStep.Judged]))
                .Concat(_stepMetrics().Where(s => s.Tallies.ContainsKey(JudgeAgreementStep.Comparable))
                    .Select(s => ($"judges name the same best response (`{s.Name}`)", s.Tallies.GetValueOrDefault(JudgeAgreementStep.SameBest), s.Tallies[JudgeAgreementStep.Comparable])))
                .ToList(),
        };
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var temp = path + $".{Environment.ProcessId}.tmp";
        await File.WriteAllTextAsync(temp, summary.ToCard().Render(), new UTF8Encoding(false), cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
        return [path];
    }

    /// <summary>
    /// Writes the card for the dataset already in <paramref name="sink"/>'s output folder, counting the rows of
    /// its <c>data_files</c> Parquet files through the same tally as a run. The service's merge uses it: each shard's
    /// card saw only that shard's rows, and the merged card must state the whole dataset. <paramref name="elapsed"/>
    /// is the run's time (a shard's clock is not).
    /// </summary>
    public async ValueTask<IReadOnlyList<string>> RecountAsync(SinkContext sink, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        _outputDirectory = sink.OutputDirectory;
        _models = sink.Models;
        _stepMetrics = sink.StepMetrics; // the whole run's figures (a sharded run's merge sums its shards')
        _elapsed = elapsed;
        const int BatchSize = 1024;
        foreach (var file in DataFilePaths(sink.OutputDirectory))
        {
            var layout = await ParquetRows.ReadLayoutAsync(file, null, Name, cancellationToken).ConfigureAwait(false);
            var batch = new List<Row>(BatchSize);
            await foreach (var row in ParquetRows.ReadAsync(file, layout, 0, 0, cancellationToken).ConfigureAwait(false))
            {
                batch.Add(row);
                if (batch.Count == BatchSize)
                {
                    await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                    batch.Clear();
                }
            }

            await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        return await CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The Parquet files the <c>data_files</c> patterns (a wildcard in the file name only) match, each once, in order.</summary>
    private IEnumerable<string> DataFilePaths(string directory) => _dataFiles
        .SelectMany<string, string>(pattern =>
        {
            var folder = Path.Combine(directory, Path.GetDirectoryName(pattern) ?? "");
            return Directory.Exists(folder) ? Directory.GetFiles(folder, Path.GetFileName(pattern)).Order(StringComparer.Ordinal) : [];
        })
        .Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        .Distinct(StringComparer.Ordinal);

    /// <summary>What steps before the card removed (from their counts) or flagged (from the rows): the lines of the card's filtering summary.</summary>
    private List<(string Label, long Count)> Filtering()
    {
        var dropped = _stepMetrics().SelectMany(s => s.Dropped).GroupBy(d => d.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(d => d.Value), StringComparer.Ordinal);
        var lines = new List<(string, long)>();
        if (dropped.TryGetValue(MinHashDedup.NearDuplicate, out var near))
        {
            lines.Add(("near-duplicates removed", near));
        }

        if (dropped.TryGetValue(EmbeddingDedup.SemanticDuplicate, out var semantic))
        {
            lines.Add(("semantic duplicates removed (embedding cosine)", semantic));
        }

        if (dropped.TryGetValue(Decontaminate.Contaminated, out var removed))
        {
            lines.Add(("contaminated rows removed (eval n-gram overlap)", removed));
        }

        if (_flaggedContaminated is { } flagged)
        {
            lines.Add(("contaminated rows flagged (eval n-gram overlap)", flagged));
        }

        return lines;
    }

    private static double? Number(object? value) => value switch { long l => l, double d => d, _ => null };

    private static string? PipelineName(string? definition)
    {
        if (definition is null)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(definition, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return document.RootElement.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

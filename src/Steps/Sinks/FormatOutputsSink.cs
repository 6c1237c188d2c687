using System.Text;
using System.Text.Json;
using Distil.Hub;
using Distil.Judge;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// <c>format_outputs</c>: writes the pairs of <c>preference_pairs</c> as several dataset configurations in one run
/// (<c>configs</c>: dpo, kto, sft, reward; see <see cref="TrainerRows"/>), each split into files in the Hub's layout
/// (<c>&lt;config&gt;/&lt;split&gt;-00000-of-00001.parquet</c>, see <see cref="ConfigLayout"/>), and the dataset
/// card whose <c>configs</c> lists each configuration and split, so <c>load_dataset(repo, "kto")</c> works once published.
/// With <c>test_size</c> the pairs are split train/test by prompt (<see cref="PromptGroupSplit"/>): the split needs
/// every prompt's pair count first, so the pairs are spooled to a file in the run folder and written out at the end.
/// </summary>
internal sealed class FormatOutputsSink : ISinkStep, IWholeRunSink, IParquetFileSink, IAsyncDisposable
{
    public static readonly StepType Type = new(
        "format_outputs",
        ["configs", "test_size", "seed", "scores", "row_group_size", "card", "pretty_name", "tags"],
        p => new FormatOutputsSink(p),
        "Writes preference pairs as several Hub dataset configurations (dpo, kto, sft, reward), optionally split train/test by prompt, with the card listing them.");

    public const string Train = "train";
    public const string Test = "test";

    private readonly IReadOnlyList<TrainerConfig> _configs;
    private readonly TestSize? _testSize;
    private readonly PromptGroupSplit? _split;
    private readonly bool _scores;
    private readonly int _rowGroupSize;
    private readonly DatasetCardStep? _card;
    private readonly Dictionary<(TrainerConfig Config, string Split), ParquetRowWriter> _writers = [];
    private IReadOnlyList<string> _dpoColumns = DpoExample.Columns;
    private FileStream? _spool;

    public FormatOutputsSink(StepParameters parameters)
    {
        Name = parameters.Name;
        var names = parameters.GetStringList("configs") ?? ["dpo"];
        if (names.Count == 0)
        {
            throw parameters.Error("configs", "'configs' must name at least one of dpo, kto, sft, reward");
        }

        var configs = new List<TrainerConfig>();
        foreach (var name in names)
        {
            if (!TrainerRows.TryParse(name, out var config))
            {
                throw parameters.Error("configs", $"unknown configuration '{name}'; choose from {string.Join(", ", TrainerRows.Names)}");
            }

            if (configs.Contains(config))
            {
                throw parameters.Error("configs", $"'{name}' is listed twice");
            }

            configs.Add(config);
        }

        _configs = configs;
        if (parameters.Get("test_size") is { } testSize)
        {
            _testSize = ParseTestSize(testSize, parameters);
            _split = new PromptGroupSplit(parameters.GetInt64("seed", 0));
        }
        else if (parameters.Has("seed"))
        {
            throw parameters.Error("seed", "'seed' chooses the test split; it needs 'test_size'");
        }

        _scores = parameters.GetBoolean("scores", false);
        _rowGroupSize = parameters.GetInt32("row_group_size", 10_000);
        if (_rowGroupSize < 1)
        {
            throw parameters.Error("row_group_size", "'row_group_size' must be at least 1");
        }

        if (parameters.GetBoolean("card", true))
        {
            var files = _configs.Select(c => new ConfigFiles(
                TrainerRows.NameOf(c),
                Splits.Select(s => new ConfigSplit(s, [ConfigLayout.GlobOf(TrainerRows.NameOf(c), s)])).ToList())).ToList();

            // A merged service run recounts the card from one row per pair: the dpo files (all the card's columns) or sft/reward.
            var pairConfig = _configs.Where(c => c != TrainerConfig.Kto).OrderBy(c => c).Select(TrainerRows.NameOf).FirstOrDefault();
            _card = new DatasetCardStep(parameters, files, pairConfig is null ? null : Splits.Select(s => ConfigLayout.GlobOf(pairConfig, s) + ".parquet").ToList());
        }

        InputColumns = _scores ? ["prompt", "chosen", "rejected", "prompt_id", "chosen_rating", "rejected_rating"] : ["prompt", "chosen", "rejected", "prompt_id"];
    }

    public string Name { get; }

    public DatasetCardStep? Card => _card;

    public (string Parameter, string Reason)? NeedsWholeRun => _testSize is not null
        ? ("test_size", "the test split is chosen from every prompt's pair count, and a shard sees only its own prompts (a prompt in two shards could land in both splits)")
        : _card is not null && _configs.All(c => c == TrainerConfig.Kto)
            ? ("configs", "the merged card counts pairs from a configuration with one row per pair (dpo, sft or reward); add one, or set \"card\": false")
            : null;

    public IReadOnlyList<string> InputColumns { get; }

    public IReadOnlyList<string> OutputColumns => [];

    public int RowGroupSize => _rowGroupSize;

    public bool Writes(string relativePath) => OwnedFiles.Any(f => string.Equals(f.Replace('\\', '/'), relativePath, StringComparison.Ordinal));

    /// <summary>Every configuration's split files, so a rerun that writes fewer leaves no stale file beside the new ones.</summary>
    public IReadOnlyList<string> OwnedFiles =>
        TrainerRows.Names.SelectMany(c => new[] { Train, Test }.Select(s => ConfigLayout.PathOf(c, s))).ToList();

    private IEnumerable<string> Splits => _testSize is null ? [Train] : [Train, Test];

    public async ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken)
    {
        if (sink.Columns is { } known)
        {
            _dpoColumns = DpoExample.Columns.Where(known.Contains).ToList();
        }

        foreach (var config in _configs)
        {
            foreach (var split in Splits)
            {
                var writer = new ParquetRowWriter(
                    Path.Combine(sink.OutputDirectory, ConfigLayout.PathOf(TrainerRows.NameOf(config), split)), _rowGroupSize, $"format_outputs '{Name}' ({TrainerRows.NameOf(config)}/{split})");
                writer.Open();
                _writers[(config, split)] = writer;
            }
        }

        if (_split is not null)
        {
            // The spool has no name while it is used (unlinked once open; delete-on-close on Windows), so a killed run leaves nothing behind.
            var spool = Path.Combine(sink.RunDirectory, $"{Name}.spool-{Guid.NewGuid():N}.jsonl");
            _spool = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None);
            if (!OperatingSystem.IsWindows())
            {
                File.Delete(spool);
            }
        }

        if (_card is not null)
        {
            await _card.OpenAsync(sink, context, cancellationToken);
        }
    }

    public async ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            var pair = DpoExample.Columns.Concat(InputColumns).Distinct().ToDictionary(c => c, c => row[c], StringComparer.Ordinal);
            if (_spool is not null)
            {
                _split!.Add(pair["prompt_id"] as string);
                Spool(row.Id, pair);
            }
            else
            {
                await WritePairAsync(row.Id, pair, Train, cancellationToken);
            }
        }

        if (_card is not null)
        {
            await _card.WriteAsync(rows, cancellationToken);
        }
    }

    public async ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken)
    {
        if (_spool is not null)
        {
            IReadOnlySet<ulong> test;
            try
            {
                test = _split!.ChooseTest(_testSize!.Value);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"format_outputs '{Name}': {e.Message}", e);
            }

            await foreach (var (id, pair) in ReadSpoolAsync(cancellationToken))
            {
                var split = test.Contains(_split.KeyOf(pair.GetValueOrDefault("prompt_id") as string)) ? Test : Train;
                await WritePairAsync(id, pair, split, cancellationToken);
            }
        }

        // Splits with rows first: an empty split then takes its configuration's schema, so every split of a
        // configuration has the same column types (load_dataset refuses splits whose features differ).
        var files = new List<string>();
        foreach (var ((config, _), writer) in _writers.OrderBy(w => w.Value.Rows == 0))
        {
            var sibling = _writers.Where(w => w.Key.Config == config && w.Value.Schema is not null).Select(w => w.Value.Schema).FirstOrDefault();
            await writer.CompleteAsync(() => sibling ?? ParquetRowSchema.AllStrings(ColumnsOf(config)), cancellationToken);
            files.Add(writer.Path);
        }

        if (_card is not null)
        {
            _card.ConfigContents = _configs.Select(c => new ConfigContents(
                c,
                _writers.Where(w => w.Key.Config == c).Select(w => w.Value.Schema?.Columns.ToList()).FirstOrDefault(l => l is not null) ?? [.. ColumnsOf(c)],
                Splits.Select(s => (s, _writers[(c, s)].Rows)).ToList())).ToList();
            files.AddRange(await _card.CompleteAsync(cancellationToken));
        }

        return files;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var writer in _writers.Values)
        {
            await writer.DisposeAsync();
        }

        if (_spool is not null)
        {
            await _spool.DisposeAsync();
            _spool = null;
        }
    }

    private async ValueTask WritePairAsync(long id, IReadOnlyDictionary<string, object?> pair, string split, CancellationToken cancellationToken)
    {
        foreach (var config in _configs)
        {
            IEnumerable<Dictionary<string, object?>> rows;
            try
            {
                rows = TrainerRows.RowsOf(config, pair, _dpoColumns, _scores).ToList();
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"format_outputs '{Name}': row {id}: {e.Message}", e);
            }

            foreach (var row in rows)
            {
                await _writers[(config, split)].AddAsync(id, row, cancellationToken);
            }
        }
    }

    /// <summary>The columns of a configuration, for an output that got no rows at all.</summary>
    private IReadOnlyList<string> ColumnsOf(TrainerConfig config) => config switch
    {
        TrainerConfig.Dpo => _scores ? [.. _dpoColumns, TrainerRows.ScoreChosen, TrainerRows.ScoreRejected] : _dpoColumns,
        TrainerConfig.Kto => ["prompt", "completion", "label", "prompt_id"],
        TrainerConfig.Sft => ["messages", "prompt_id"],
        _ => _scores ? ["chosen", "rejected", "prompt_id", TrainerRows.ScoreChosen, TrainerRows.ScoreRejected] : ["chosen", "rejected", "prompt_id"],
    };

    /// <summary>One pair per line, <c>[id, {columns}]</c>, through <see cref="RowJson"/> so values keep their types.</summary>
    private void Spool(long id, IReadOnlyDictionary<string, object?> pair)
    {
        using (var writer = new Utf8JsonWriter(_spool!))
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(id);
            RowJson.WriteValue(writer, pair);
            writer.WriteEndArray();
        }

        _spool!.WriteByte((byte)'\n');
    }

    private async IAsyncEnumerable<(long Id, IReadOnlyDictionary<string, object?> Pair)> ReadSpoolAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await _spool!.FlushAsync(cancellationToken);
        _spool.Position = 0;
        using var reader = new StreamReader(_spool, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            using var document = JsonDocument.Parse(line);
            var id = document.RootElement[0].GetInt64();
            yield return (id, (IReadOnlyDictionary<string, object?>)RowJson.ToValue(document.RootElement[1])!);
        }
    }

    private static TestSize ParseTestSize(JsonElement value, StepParameters parameters)
    {
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (value.TryGetInt64(out var count) && count >= 1)
            {
                return new TestSize(null, count);
            }

            var fraction = value.GetDouble();
            if (fraction > 0 && fraction < 1)
            {
                return new TestSize(fraction, null);
            }
        }

        throw parameters.Error("test_size", "'test_size' must be a fraction between 0 and 1 (exclusive) or a whole number of pairs of at least 1");
    }
}

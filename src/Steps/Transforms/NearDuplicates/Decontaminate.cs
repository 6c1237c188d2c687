using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// decontaminate: finds rows that share a word n-gram (13 by default, as in the GPT-3 and Llama contamination
/// studies) with a user-supplied evaluation set, and drops them (counted as <c>contaminated</c>) or flags them in a
/// boolean column. The eval set is read once, on the first batch, into a set of n-gram hashes. The dataset card
/// shows the count.
/// </summary>
internal sealed class Decontaminate : IBatchStep
{
    public const string Contaminated = "contaminated";

    public static readonly StepType Type = new(
        "decontaminate",
        ["column", "columns", "eval_file", "eval_column", "ngram", "lowercase", "mode", "flag_column"],
        p => new Decontaminate(p),
        "Drops (or flags) rows sharing a word n-gram (default 13) with an eval set file (JSONL or Parquet).");

    private readonly TextColumns _text;
    private readonly string _evalFile;
    private readonly string _evalColumn;
    private readonly int _n;
    private readonly bool _lowercase;
    private readonly string? _flagColumn;
    private readonly Lazy<Task<EvalNGrams>> _grams;

    public Decontaminate(StepParameters parameters)
    {
        Name = parameters.Name;
        _text = new TextColumns(parameters);
        _evalFile = parameters.GetPath("eval_file") ?? throw parameters.Error("eval_file", $"step '{Name}' needs 'eval_file': the eval set (JSONL or Parquet) to check against");
        if (!File.Exists(_evalFile))
        {
            throw parameters.Error("eval_file", $"eval set not found: {_evalFile}");
        }

        if (!IsParquet(_evalFile) && !_evalFile.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) && !_evalFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            throw parameters.Error("eval_file", "the eval set must be a .jsonl (one object a line) or .parquet file");
        }

        _evalColumn = parameters.GetString("eval_column") ?? (_text.Names.Count == 1 ? _text.Names[0]
            : throw parameters.Error("eval_column", "with several 'columns', name the eval set's text column in 'eval_column'"));
        _n = parameters.GetInt32("ngram", 13, 1, 64);
        _lowercase = parameters.GetBoolean("lowercase", true);
        _flagColumn = parameters.GetString("mode") switch
        {
            null or "drop" => parameters.Has("flag_column") ? throw parameters.Error("flag_column", "'flag_column' is for mode \"flag\"; rows are dropped in mode \"drop\"") : null,
            "flag" => parameters.GetString("flag_column") is { Length: > 0 } column ? column : parameters.Has("flag_column") ? throw parameters.Error("flag_column", "'flag_column' must not be empty") : Contaminated,
            var other => throw parameters.Error("mode", $"'mode' must be \"drop\" or \"flag\", not {PipelineDefinitionException.Quote(other)}"),
        };
        _grams = new(() => EvalNGrams.LoadAsync(_evalFile, _evalColumn, NewShingler(), CancellationToken.None));
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => _text.Names;

    public IReadOnlyList<string> OutputColumns => _flagColumn is null ? [] : [_flagColumn];

    public bool CachesBatches => false;

    public async ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var grams = await _grams.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        var words = NewShingler();
        var kept = new List<Row>(rows.Count);
        var contaminated = 0;
        foreach (var row in rows)
        {
            var overlaps = grams.Overlaps(words.Units(_text.Of(row)));
            contaminated += overlaps ? 1 : 0;
            if (_flagColumn is not null)
            {
                row[_flagColumn] = overlaps;
                kept.Add(row);
            }
            else if (!overlaps)
            {
                kept.Add(row);
            }
        }

        // Counted even when zero, so the card can say "0 contaminated rows removed" rather than nothing.
        if (_flagColumn is null)
        {
            context.CountDropped(Contaminated, contaminated);
        }

        return kept;
    }

    internal static bool IsParquet(string path) => path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);

    // One per batch: a shingler keeps a buffer, and batches may run in parallel.
    private Shingler NewShingler() => new(ShingleKind.Word, _n, _lowercase);
}

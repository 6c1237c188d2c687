using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// minhash_dedup: drops near-duplicate rows. Each row's text is cut into word (or character) n-gram shingles, signed
/// with MinHash, and looked up in an LSH band index; a row that shares a band with an earlier row joins that row's
/// cluster, and only the first row of a cluster is kept (the others are counted as <c>near_duplicate</c>, or kept with
/// <c>duplicate_of</c> naming the first row's id). It streams: the index holds band hashes, never texts. Like dedup it
/// is not cached, so on resume it sees every row again and rebuilds the same index (the hash family is seeded).
/// </summary>
internal sealed class MinHashDedup : IBatchStep
{
    public const string NearDuplicate = "near_duplicate";

    public static readonly StepType Type = new(
        "minhash_dedup",
        ["column", "columns", "shingle", "ngram", "lowercase", "num_perm", "threshold", "bands", "rows", "seed", "duplicate_of"],
        p => new MinHashDedup(p),
        "Drops near-duplicates (MinHash + LSH over word or character n-grams, Jaccard 'threshold'); the first row of each cluster stays.");

    private readonly TextColumns _text;
    private readonly Shingler _shingler;
    private readonly MinHasher _hasher;
    private readonly NearDuplicateIndex _index;
    private readonly string? _duplicateOf;
    private readonly List<ulong> _shingles = [];
    private readonly ulong[] _signature;

    public MinHashDedup(StepParameters parameters)
    {
        Name = parameters.Name;
        if (parameters.GetInt32("max_parallelism", 1) != 1)
        {
            throw parameters.Error("max_parallelism", "minhash_dedup keeps the first row of each cluster, so it handles one batch at a time; remove 'max_parallelism'");
        }

        _text = new TextColumns(parameters);
        var kind = Shingler.ParseKind(parameters, "shingle");
        _shingler = new Shingler(kind, parameters.GetInt32("ngram", kind == ShingleKind.Word ? 3 : 5, 1, 64), parameters.GetBoolean("lowercase", true));
        var permutations = parameters.GetInt32("num_perm", 128, 8, 2048);
        Bands = ChooseBands(parameters, permutations);
        _hasher = new MinHasher(permutations, parameters.GetInt64("seed", 1));
        _index = new NearDuplicateIndex(Bands, trackRepresentatives: parameters.Has("duplicate_of"));
        _signature = new ulong[permutations];
        _duplicateOf = parameters.GetString("duplicate_of") switch
        {
            "" => throw parameters.Error("duplicate_of", "'duplicate_of' names the column to add; it must not be empty"),
            var column => column,
        };
    }

    public string Name { get; }

    /// <summary>The LSH layout in use (chosen from the threshold, or as given).</summary>
    public LshBands Bands { get; }

    public IReadOnlyList<string> InputColumns => _text.Names;

    public IReadOnlyList<string> OutputColumns => _duplicateOf is null ? [] : [_duplicateOf];

    public bool CachesBatches => false;

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var kept = new List<Row>(rows.Count);
        foreach (var row in rows)
        {
            var representative = RepresentativeOf(row);
            if (_duplicateOf is not null)
            {
                row[_duplicateOf] = representative;
                kept.Add(row);
            }
            else if (representative is null)
            {
                kept.Add(row);
            }
            else
            {
                context.CountDropped(NearDuplicate);
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(kept);
    }

    /// <summary>The id of the first row of <paramref name="row"/>'s cluster, or null when it starts one (or has no text to compare).</summary>
    internal long? RepresentativeOf(Row row)
    {
        _shingler.Collect(_text.Of(row), _shingles);
        if (_shingles.Count == 0)
        {
            return null;
        }

        _hasher.Sign(_shingles, _signature);
        return _index.Add(_signature, row.Id);
    }

    private static LshBands ChooseBands(StepParameters parameters, int permutations)
    {
        var bands = parameters.Has("bands");
        var rows = parameters.Has("rows");
        if (bands != rows)
        {
            throw parameters.Error(bands ? "rows" : "bands", "give 'bands' and 'rows' together (or neither, and 'threshold' chooses them)");
        }

        if (!bands)
        {
            return LshBands.For(parameters.GetDouble("threshold", 0.8, 0.05, 0.99), permutations);
        }

        if (parameters.Has("threshold"))
        {
            throw parameters.Error("threshold", "give either 'threshold' or 'bands' and 'rows': the threshold only chooses them");
        }

        var layout = new LshBands(parameters.GetInt32("bands", 0, 1, permutations), parameters.GetInt32("rows", 0, 1, permutations));
        return layout.Bands * layout.Rows <= permutations ? layout
            : throw parameters.Error("rows", $"'bands' × 'rows' ({layout.Bands} × {layout.Rows}) must not exceed 'num_perm' ({permutations})");
    }
}

using Distil.Engine.Embedding;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// embedding_dedup: drops rows whose meaning repeats an earlier row's, as a local sentence-embedding model sees it
/// (mean-pooled, unit-length vectors; cosine ≥ <c>threshold</c>). Greedy and keep-first: each row is compared with
/// every row kept so far and joins the closest one at or above the threshold (counted as <c>semantic_duplicate</c>,
/// or kept with <c>duplicate_of</c>); otherwise it is kept. It holds one vector per kept row (1.5 KiB at 384
/// dimensions) and compares each row with all of them, so it suits thousands to a few hundred thousand rows; run
/// minhash_dedup first on larger sets. The model loads on the first batch.
/// </summary>
internal sealed class EmbeddingDedup : IBatchStep
{
    public const string SemanticDuplicate = "semantic_duplicate";

    /// <summary>Texts per model call: enough to batch, small enough to keep the padded tensor modest.</summary>
    private const int ModelBatch = 32;

    public static readonly StepType Type = new(
        "embedding_dedup",
        ["column", "columns", "embedding_model", "threshold", "max_tokens", "threads", "duplicate_of"],
        p => new EmbeddingDedup(p),
        "Drops rows whose sentence embedding (local ONNX model, e.g. all-MiniLM-L6-v2) has cosine ≥ 'threshold' with a kept row; the first stays.");

    private readonly TextColumns _text;
    private readonly string _modelFolder;
    private readonly double _threshold;
    private readonly int _maxTokens;
    private readonly int _threads;
    private readonly string? _duplicateOf;
    private readonly List<(long Id, float[] Vector)> _kept = [];
    private SentenceEmbedder? _embedder;

    public EmbeddingDedup(StepParameters parameters)
    {
        Name = parameters.Name;
        if (parameters.GetInt32("max_parallelism", 1) != 1)
        {
            throw parameters.Error("max_parallelism", "embedding_dedup keeps the first row of each group, so it handles one batch at a time; remove 'max_parallelism'");
        }

        _text = new TextColumns(parameters);
        _modelFolder = parameters.GetPath("embedding_model") ?? throw parameters.Error("embedding_model", $"step '{Name}' needs 'embedding_model': a folder with model.onnx and vocab.txt (a sentence-transformers export such as all-MiniLM-L6-v2)");
        if (!Directory.Exists(_modelFolder))
        {
            throw parameters.Error("embedding_model", $"embedding model folder not found: {_modelFolder}");
        }

        _threshold = parameters.GetDouble("threshold", 0.9, 0.0, 1.0);
        _maxTokens = parameters.GetInt32("max_tokens", 256, 8, 8192);
        _threads = parameters.GetInt32("threads", 0, 0, 1024);
        _duplicateOf = parameters.GetString("duplicate_of") switch
        {
            "" => throw parameters.Error("duplicate_of", "'duplicate_of' names the column to add; it must not be empty"),
            var column => column,
        };
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => _text.Names;

    public IReadOnlyList<string> OutputColumns => _duplicateOf is null ? [] : [_duplicateOf];

    public bool CachesBatches => false;

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        _embedder ??= SentenceEmbedder.Open(_modelFolder, _maxTokens, _threads);
        var kept = new List<Row>(rows.Count);
        foreach (var chunk in rows.Chunk(ModelBatch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var vectors = _embedder.Embed(chunk.Select(_text.Of).ToList());
            for (var i = 0; i < chunk.Length; i++)
            {
                var representative = Closest(vectors[i]);
                if (representative is null)
                {
                    _kept.Add((chunk[i].Id, vectors[i]));
                }

                if (_duplicateOf is not null)
                {
                    chunk[i][_duplicateOf] = representative;
                    kept.Add(chunk[i]);
                }
                else if (representative is null)
                {
                    kept.Add(chunk[i]);
                }
                else
                {
                    context.CountDropped(SemanticDuplicate);
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(kept);
    }

    /// <summary>The id of the kept row most similar to <paramref name="vector"/> when at or above the threshold; else null.</summary>
    private long? Closest(float[] vector)
    {
        long? best = null;
        var bestCosine = _threshold;
        foreach (var (id, other) in _kept)
        {
            var cosine = SentenceEmbedder.Cosine(vector, other);
            if (cosine >= bestCosine && (best is null || cosine > bestCosine))
            {
                (best, bestCosine) = (id, cosine);
            }
        }

        return best;
    }
}

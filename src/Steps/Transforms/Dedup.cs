using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// dedup: drops rows whose <c>column</c> value was already seen (exact match; the first occurrence wins).
/// Its memory of seen values is rebuilt on resume because it is not cached: it sees every row again.
/// </summary>
internal sealed class Dedup(StepParameters parameters) : IBatchStep
{
    public const string Duplicate = "duplicate";

    private readonly string _column = parameters.GetInt32("max_parallelism", 1) == 1 ? parameters.RequireString("column")
        : throw parameters.Error("max_parallelism", "dedup keeps the first occurrence, so it handles one batch at a time; remove 'max_parallelism'");
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    public string Name { get; } = parameters.Name;

    public IReadOnlyList<string> InputColumns => [_column];

    public IReadOnlyList<string> OutputColumns => [];

    public bool CachesBatches => false;

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var kept = new List<Row>(rows.Count);
        lock (_seen)
        {
            foreach (var row in rows)
            {
                if (_seen.Add(KeyOf(row[_column])))
                {
                    kept.Add(row);
                }
                else
                {
                    context.CountDropped(Duplicate);
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(kept);
    }

    private static string KeyOf(object? value) => value switch
    {
        null => "\0null",
        string s => "s" + s,
        _ => "v" + System.Text.Json.JsonSerializer.Serialize(value),
    };
}

using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// pass_through: hands rows on unchanged, optionally waiting <c>delay_ms</c> per batch. It stands in for a slow
/// task when trying out resume (it caches its batches like a task does) and measures the engine's own overhead.
/// </summary>
internal sealed class PassThrough(StepParameters parameters) : IBatchStep
{
    private readonly TimeSpan _delay = TimeSpan.FromMilliseconds(parameters.GetInt32("delay_ms", 0));
    private readonly bool _cache = parameters.GetBoolean("cache", true);

    public string Name { get; } = parameters.Name;

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => [];

    public bool CachesBatches => _cache;

    public async ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        if (_delay > TimeSpan.Zero)
        {
            await Task.Delay(_delay, cancellationToken);
        }

        return rows;
    }
}

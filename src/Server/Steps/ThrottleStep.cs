using Distil.Pipeline;

namespace Distil.Server.Steps;

/// <summary>
/// Passes rows through at no more than <c>rows_per_second</c> (per batch in flight): paces a pipeline
/// that feeds a rate-limited remote endpoint, and makes a shard last long enough to watch or interrupt.
/// </summary>
public sealed class ThrottleStep : IBatchStep
{
    private readonly double _rowsPerSecond;

    private ThrottleStep(string name, double rowsPerSecond)
    {
        Name = name;
        _rowsPerSecond = rowsPerSecond;
    }

    public static StepType Type { get; } = new(
        "throttle",
        ["rows_per_second"],
        Create,
        "Passes rows through unchanged, at most rows_per_second rows per second.");

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => [];

    public async ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(rows.Count / _rowsPerSecond), cancellationToken);
        return rows;
    }

    private static ThrottleStep Create(StepParameters parameters)
    {
        if (!parameters.Has("rows_per_second"))
        {
            throw parameters.Error(null, $"step '{parameters.Name}' needs the parameter 'rows_per_second'");
        }

        var rate = parameters.GetDouble("rows_per_second", 0);
        if (!(rate > 0))
        {
            throw parameters.Error("rows_per_second", "'rows_per_second' must be a positive number");
        }

        return new ThrottleStep(parameters.Name, rate);
    }
}

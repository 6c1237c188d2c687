using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Distil.Pipeline;

/// <summary>What the runtime gives a step while it runs.</summary>
public interface IStepContext
{
    string StepName { get; }

    ILogger Logger { get; }

    /// <summary>The run's working folder (runs/&lt;pipeline&gt;/&lt;fingerprint&gt;).</summary>
    string RunDirectory { get; }

    /// <summary>The chat client of a model named in the definition's <c>models</c>.</summary>
    IChatClient GetModel(string modelName);

    /// <summary>Marks <paramref name="row"/> as failed (sets <see cref="Row.ErrorColumn"/>) and counts it.</summary>
    void RecordRowError(Row row, string message);

    /// <summary>Counts rows a step dropped on purpose (ties, duplicates, skipped input), by reason.</summary>
    void CountDropped(string reason, long count = 1);

    /// <summary>Adds model token usage to the step's metrics.</summary>
    void AddTokens(long inputTokens, long outputTokens);

    /// <summary>Counts one answer by the backend that produced it: the model id a server reports, with its
    /// <c>system_fingerprint</c> when it sends one. Kept per batch (in the step cache) and per step (in the
    /// manifest), so a backend that changed behind the same model name during a run shows as two entries.</summary>
    void CountBackend(string backend)
    {
    }

    /// <summary>Adds to a named count a step reports about its work (rows judged, position-consistent verdicts…).
    /// Kept per batch (in the step cache) and summed per step into the manifest's <c>tallies</c>, like drops.</summary>
    void Tally(string name, long count = 1)
    {
    }
}

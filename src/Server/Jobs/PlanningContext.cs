using Distil.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Server.Jobs;

/// <summary>The step context of a source read only to count its rows: no models, no run folder, counters ignored.</summary>
internal sealed class PlanningContext(string stepName) : IStepContext
{
    public string StepName { get; } = stepName;

    public ILogger Logger => NullLogger.Instance;

    public string RunDirectory => Path.GetTempPath();

    public IChatClient GetModel(string modelName) =>
        throw new InvalidOperationException($"step '{StepName}' asked for model '{modelName}' while its rows were being counted");

    public void RecordRowError(Row row, string message) => row[Row.ErrorColumn] = message;

    public void CountDropped(string reason, long count = 1) { }

    public void AddTokens(long inputTokens, long outputTokens) { }
}

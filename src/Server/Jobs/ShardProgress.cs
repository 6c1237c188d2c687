using Distil.Pipeline;
using Distil.Server.Storage;

namespace Distil.Server.Jobs;

/// <summary>Collects the runner's progress reports of one shard; the watcher takes a snapshot when something moved.</summary>
/// <param name="workSteps">
/// The steps whose progress says how much of the shard is done: those that compute and cache their batches (model
/// calls), or, in a pipeline without any, every step but the sinks. Cheap transforms and sinks are left out because
/// they take rows in batches of their own and so lag behind the work by up to a batch without work being left.
/// </param>
internal sealed class ShardProgress(IReadOnlyList<string> stepOrder, IReadOnlyList<string> workSteps) : IProgress<StepProgress>
{
    private readonly object _gate = new();
    private readonly Dictionary<string, StepProgress> _latest = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private bool _changed;

    public void Report(StepProgress value)
    {
        lock (_gate)
        {
            _latest[value.Step] = value;
            _changed = true;
        }
    }

    /// <summary>The steps of <paramref name="definition"/> whose progress measures the shard's (see the constructor).</summary>
    public static IReadOnlyList<string> WorkStepsOf(PipelineDefinition definition)
    {
        var caching = definition.Steps.Where(s => s.Step is IBatchStep { CachesBatches: true }).Select(s => s.Name).ToList();
        return caching.Count > 0 ? caching : definition.Steps.Where(s => s.Step is not ISinkStep).Select(s => s.Name).ToList();
    }

    /// <summary>Source rows every work step has finished.</summary>
    public long RowsDone
    {
        get
        {
            lock (_gate)
            {
                return workSteps.Count == 0 ? 0 : workSteps.Min(name => _latest.TryGetValue(name, out var p) ? p.RowsDone : 0);
            }
        }
    }

    /// <summary>Each step's latest report (what its tokens cost so far, for the run's budget).</summary>
    public IReadOnlyList<StepProgress> Latest()
    {
        lock (_gate)
        {
            return [.. _latest.Values];
        }
    }

    public IReadOnlyList<StepCounts>? TakeSnapshotIfChanged()
    {
        lock (_gate)
        {
            if (!_changed)
            {
                return null;
            }

            _changed = false;
            var seconds = (DateTimeOffset.UtcNow - _started).TotalSeconds;
            return stepOrder.Where(_latest.ContainsKey)
                .Select(name => _latest[name])
                .Select(p => new StepCounts(p.Step, p.RowsDone, 0, p.Errors, 0, p.InputTokens, p.OutputTokens, seconds))
                .ToList();
        }
    }
}

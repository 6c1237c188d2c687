using Distil.Pipeline;
using Distil.Server.Storage;

namespace Distil.Server.Jobs;

/// <summary>Collects the runner's progress reports of one shard; the watcher takes a snapshot when something moved.</summary>
internal sealed class ShardProgress(IReadOnlyList<string> stepOrder) : IProgress<StepProgress>
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

using Distil.Pipeline;
using Distil.Steps;

namespace Distil.Pipeline.Tests;

/// <summary>Step types that exist only in tests, to observe what the runtime hands to steps.</summary>
internal static class TestSteps
{
    /// <summary>The built-in registry plus: tag (adds column 'tag' = "&lt;label&gt;:&lt;id&gt;"), fail_every (records an error on ids divisible by 'every'), record (remembers the ids and columns it sees), throw_at (a transform that throws on the batch holding row 'id').</summary>
    public static StepRegistry Registry(CallLog? log = null)
    {
        log ??= new CallLog();
        var registry = BuiltInSteps.CreateRegistry();
        registry.Register(new StepType("tag", ["label", "delay_ms"], p => new Tag(p, log), "test: adds tag = label:id"));
        registry.Register(new StepType("fail_every", ["every", "omit"], p => new FailEvery(p), "test: fails rows with id % every == 0"));
        registry.Register(new StepType("record", ["needs"], p => new Record(p, log), "test: records the rows it is given"));
        registry.Register(new StepType("throw_at", ["id"], p => new ThrowAt(p), "test: a transform that throws on the batch holding row 'id'"));
        return registry;
    }

    public sealed class CallLog
    {
        private int _calls;

        public int Calls => _calls;

        public System.Collections.Concurrent.ConcurrentBag<Row> Seen { get; } = [];

        public void Call() => Interlocked.Increment(ref _calls);
    }

    private sealed class Tag(StepParameters p, CallLog log) : IBatchStep
    {
        private readonly string _label = p.RequireString("label");
        private readonly int _delay = p.GetInt32("delay_ms", 0);

        public string Name { get; } = p.Name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => ["tag"];

        public async ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
        {
            log.Call();
            if (_delay > 0)
            {
                // Vary the delay per batch so that parallel batches finish out of order.
                await Task.Delay(_delay * (int)(1 + rows[0].Id % 3), cancellationToken);
            }

            foreach (var row in rows)
            {
                row["tag"] = $"{_label}:{row.Id}";
            }

            context.AddTokens(rows.Count, 2 * rows.Count);
            return rows;
        }
    }

    private sealed class FailEvery(StepParameters p) : IBatchStep
    {
        private readonly int _every = p.GetInt32("every", 2);
        private readonly bool _omit = p.GetBoolean("omit", false);

        public string Name { get; } = p.Name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => ["score"];

        public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
        {
            var output = new List<Row>();
            foreach (var row in rows)
            {
                if (row.Id % _every == 0)
                {
                    context.RecordRowError(row, $"cannot score row {row.Id}");
                    if (_omit)
                    {
                        continue;
                    }
                }
                else
                {
                    row["score"] = (double)row.Id;
                }

                output.Add(row);
            }

            return ValueTask.FromResult<IReadOnlyList<Row>>(output);
        }
    }

    private sealed class Record(StepParameters p, CallLog log) : IBatchStep
    {
        private readonly IReadOnlyList<string> _needs = p.GetStringList("needs") ?? [];

        public string Name { get; } = p.Name;

        public IReadOnlyList<string> InputColumns => _needs;

        public IReadOnlyList<string> OutputColumns => [];

        public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
        {
            log.Call();
            foreach (var row in rows)
            {
                log.Seen.Add(row.Clone());
            }

            return ValueTask.FromResult(rows);
        }
    }

    /// <summary>A cheap transform (no batch cache, so it runs on its predecessor's loop) that fails the run.</summary>
    private sealed class ThrowAt(StepParameters p) : IBatchStep
    {
        private readonly long _id = p.GetInt64("id", 0);

        public string Name { get; } = p.Name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => [];

        public bool CachesBatches => false;

        public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken) =>
            rows.Any(r => r.Id == _id)
                ? throw new InvalidDataException($"step '{Name}' cannot handle row {_id}")
                : ValueTask.FromResult(rows);
    }
}

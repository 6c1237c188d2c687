using Distil.Server.Jobs;
namespace Distil.Server.Storage;

/// <summary>
/// The run store of a single process (the embedded default, beside Hangfire.InMemory): records in
/// memory, shard files on the local disk under <c>resultsRoot/&lt;run&gt;/&lt;shard&gt;/</c>.
/// One lock guards the records; the file copy happens before it is taken.
/// </summary>
internal sealed class InMemoryRunStore : IRunStore
{
    private readonly object _gate = new();
    private readonly Dictionary<Guid, RunEntry> _runs = [];
    private readonly Dictionary<string, ScheduleRecord> _schedules = new(StringComparer.Ordinal);
    private readonly string _resultsRoot;

    public InMemoryRunStore(string resultsRoot)
    {
        _resultsRoot = Path.GetFullPath(resultsRoot);
    }

    public Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_resultsRoot);
        return Task.CompletedTask;
    }

    public Task CreateRunAsync(NewRun run, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _runs.TryAdd(run.Id, new RunEntry(run, DateTimeOffset.UtcNow));
        }

        return Task.CompletedTask;
    }

    public Task<(string Json, string? File)?> GetDefinitionAsync(Guid runId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<(string, string?)?>(_runs.TryGetValue(runId, out var e) ? (e.New.DefinitionJson, e.New.DefinitionFile) : null);
        }
    }

    public Task<bool> PlanShardsAsync(Guid runId, long rowsTotal, IReadOnlyList<ShardRange> shards, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var e) || e.State != RunState.Planning)
            {
                return Task.FromResult(false);
            }

            e.State = RunState.Running;
            e.RowsTotal = rowsTotal;
            e.StartedAt = DateTimeOffset.UtcNow;
            e.Shards = shards.Select(s => new ShardEntry(s)).ToList();
            return Task.FromResult(true);
        }
    }

    public Task<ShardRange?> StartShardAsync(Guid runId, int shard, string worker, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var e) || e.State != RunState.Running || e.Shards[shard].State == ShardState.Succeeded)
            {
                return Task.FromResult<ShardRange?>(null);
            }

            var s = e.Shards[shard];
            s.State = ShardState.Running;
            s.Attempts++;
            s.Worker = worker;
            s.StartedAt = DateTimeOffset.UtcNow;
            return Task.FromResult<ShardRange?>(s.Range);
        }
    }

    public Task ReportShardProgressAsync(Guid runId, int shard, IReadOnlyList<StepCounts> steps, long rowsDone, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_runs.TryGetValue(runId, out var e) && e.Shards[shard].State != ShardState.Succeeded)
            {
                e.Shards[shard].Steps = steps;
                e.Shards[shard].RowsDone = rowsDone;
            }
        }

        return Task.CompletedTask;
    }

    public Task<ShardCompletion> CompleteShardAsync(Guid runId, int shard, IReadOnlyList<ShardFile> files, IReadOnlyList<StepCounts> steps, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var e = _runs[runId];
            var s = e.Shards[shard];
            if (s.State != ShardState.Succeeded && e.State is (RunState.Failed or RunState.Cancelled))
            {
                // The run ended without it: nothing will merge this shard, so its files are not kept.
                s.State = ShardState.Succeeded;
                s.FinishedAt = DateTimeOffset.UtcNow;
                s.Steps = steps;
                return Task.FromResult(new ShardCompletion(true, false));
            }

            if (s.State != ShardState.Succeeded)
            {
                // The shard's folder appears whole (rename) or not at all.
                var final = ShardFolder(runId, shard);
                var staging = $"{final}.tmp-{Guid.NewGuid():N}";
                Directory.CreateDirectory(staging);
                foreach (var file in files)
                {
                    var target = Path.Combine(staging, file.Name);
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Copy(file.LocalPath, target);
                }

                if (Directory.Exists(final))
                {
                    Directory.Delete(final, recursive: true);
                }

                Directory.Move(staging, final);
                s.State = ShardState.Succeeded;
                s.FinishedAt = DateTimeOffset.UtcNow;
                s.Error = null;
                s.Steps = steps;
                s.Files = files.Select(f => f.Name).Order(StringComparer.Ordinal).ToList();
                return Task.FromResult(new ShardCompletion(true, AllDone(e)));
            }

            return Task.FromResult(new ShardCompletion(false, AllDone(e)));
        }
    }

    public Task RecordShardErrorAsync(Guid runId, int shard, string error, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var s = _runs[runId].Shards[shard];
            s.Error = error;
            if (s.State != ShardState.Succeeded)
            {
                s.State = ShardState.Pending;
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> GetShardFileNamesAsync(Guid runId, int shard, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_runs[runId].Shards[shard].Files);
        }
    }

    public async Task CopyShardFileAsync(Guid runId, int shard, string name, Stream destination, CancellationToken cancellationToken)
    {
        destination.SetLength(0);
        await using var source = File.OpenRead(Path.Combine(ShardFolder(runId, shard), name));
        await source.CopyToAsync(destination, cancellationToken);
    }

    public Task<bool> BeginMergeAsync(Guid runId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var e) || e.State is not (RunState.Running or RunState.Merging) || !AllDone(e))
            {
                return Task.FromResult(false);
            }

            e.State = RunState.Merging;
            return Task.FromResult(true);
        }
    }

    public Task FinishRunAsync(Guid runId, string output, string summaryJson, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var e = _runs[runId];
            if (e.State != RunState.Merging)
            {
                return Task.CompletedTask;
            }

            e.State = RunState.Succeeded;
            e.FinishedAt = DateTimeOffset.UtcNow;
            e.Output = output;
            e.Summary = summaryJson;
            e.Error = null;
        }

        DropResults(runId);
        return Task.CompletedTask;
    }

    private void DropResults(Guid runId)
    {
        var folder = Path.Combine(_resultsRoot, runId.ToString("N"));
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public Task FailRunAsync(Guid runId, string error, CancellationToken cancellationToken) =>
        Task.FromResult(SetTerminal(runId, RunState.Failed, error));

    public Task<bool> CancelRunAsync(Guid runId, CancellationToken cancellationToken) =>
        Task.FromResult(SetTerminal(runId, RunState.Cancelled, null));

    public Task<decimal> ChargeAsync(Guid runId, decimal usd, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var e))
            {
                throw new KeyNotFoundException($"run {runId} is not known");
            }

            e.SpentUsd += usd;
            return Task.FromResult(e.SpentUsd);
        }
    }

    public Task<bool> StopAtBudgetAsync(Guid runId, decimal spentUsd, decimal budgetUsd, CancellationToken cancellationToken) =>
        Task.FromResult(SetTerminal(runId, RunState.Cancelled, BudgetStop.Message(spentUsd, budgetUsd)));

    public Task<RunState?> GetRunStateAsync(Guid runId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<RunState?>(_runs.TryGetValue(runId, out var e) ? e.State : null);
        }
    }

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<RunRecord>>(_runs.Values.OrderByDescending(e => e.CreatedAt).Take(limit).Select(e => e.ToRecord()).ToList());
        }
    }

    public Task<RunDetails?> GetRunAsync(Guid runId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var e))
            {
                return Task.FromResult<RunDetails?>(null);
            }

            var shards = e.Shards.Select(s => new ShardRecord(s.Range.Index, s.Range.Offset, s.Range.Limit, s.State, s.Attempts, s.Worker, s.StartedAt, s.FinishedAt, s.Error)).ToList();
            return Task.FromResult<RunDetails?>(new RunDetails(e.ToRecord(), shards, SumSteps(e.Shards), e.Summary, e.Publications.Values.ToList(), e.Models.Values.OrderBy(m => m.Model, StringComparer.Ordinal).ThenBy(m => m.Shard).ToList()));
        }
    }

    public Task StoreInputAsync(Guid runId, string path, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IReadOnlyList<RunInput>> GetInputsAsync(Guid runId, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<RunInput>>([]);

    public Task CopyInputAsync(string digest, Stream destination, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("the in-memory store keeps no inputs");

    public Task RecordPublicationAsync(Guid runId, Publication publication, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_runs.TryGetValue(runId, out var e))
            {
                e.Publications[publication.Step] = publication;
            }
        }

        return Task.CompletedTask;
    }

    public Task ReportShardModelsAsync(Guid runId, int shard, IReadOnlyList<ShardModelActivity> models, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_runs.TryGetValue(runId, out var e))
            {
                foreach (var model in models)
                {
                    e.Models[(shard, model.Model)] = model;
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task AppendReviewAsync(Guid runId, Distil.Steps.ReviewEntry entry, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Distil.Steps.ReviewLog.AppendFile(
                ReviewLogPath(runId) ?? throw new InvalidOperationException($"run {runId} has no merged output to review"), entry);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<Distil.Steps.ReviewEntry>> GetReviewsAsync(Guid runId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(ReviewLogPath(runId) is { } path ? Distil.Steps.ReviewLog.ReadFile(path) : []);
        }
    }

    /// <summary>The log lives beside the merged output, so it outlives this process and <c>distil publish</c> applies it.</summary>
    private string? ReviewLogPath(Guid runId) =>
        _runs.TryGetValue(runId, out var e) && e.Output is { } output ? Path.Combine(output, Distil.Steps.ReviewLog.FileName) : null;

    public Task UpsertScheduleAsync(ScheduleRecord schedule, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _schedules[schedule.Id] = schedule;
        }

        return Task.CompletedTask;
    }

    public Task<ScheduleRecord?> GetScheduleAsync(string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_schedules.GetValueOrDefault(id));
        }
    }

    public Task<bool> DeleteScheduleAsync(string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_schedules.Remove(id));
        }
    }

    private bool SetTerminal(Guid runId, RunState state, string? error)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var e) || e.State is RunState.Succeeded or RunState.Failed or RunState.Cancelled)
            {
                return false;
            }

            e.State = state;
            e.Error = error ?? e.Error;
            e.FinishedAt = DateTimeOffset.UtcNow;
            // Completions take the same lock and see the end state, so no shard folder appears after this.
            DropResults(runId);
            return true;
        }
    }

    private string ShardFolder(Guid runId, int shard) => Path.Combine(_resultsRoot, runId.ToString("N"), shard.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static bool AllDone(RunEntry e) => e.Shards.Count > 0 && e.Shards.All(s => s.State == ShardState.Succeeded);

    /// <summary>Sums each step's counters over shards, steps in pipeline order.</summary>
    private static List<StepCounts> SumSteps(IEnumerable<ShardEntry> shards)
    {
        var order = new List<string>();
        var sums = new Dictionary<string, StepCounts>(StringComparer.Ordinal);
        foreach (var step in shards.SelectMany(s => s.Steps))
        {
            if (sums.TryGetValue(step.Step, out var sum))
            {
                sums[step.Step] = new StepCounts(step.Step, sum.RowsIn + step.RowsIn, sum.RowsOut + step.RowsOut, sum.Errors + step.Errors,
                    sum.Dropped + step.Dropped, sum.InputTokens + step.InputTokens, sum.OutputTokens + step.OutputTokens, sum.Seconds + step.Seconds);
            }
            else
            {
                order.Add(step.Step);
                sums[step.Step] = step;
            }
        }

        return order.Select(name => sums[name]).ToList();
    }

    private sealed class RunEntry(NewRun run, DateTimeOffset createdAt)
    {
        public NewRun New { get; } = run;
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public RunState State { get; set; } = RunState.Planning;
        public long? RowsTotal { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }
        public string? Output { get; set; }
        public string? Error { get; set; }
        public string? Summary { get; set; }
        public decimal SpentUsd { get; set; }
        public List<ShardEntry> Shards { get; set; } = [];
        public SortedDictionary<string, Publication> Publications { get; } = new(StringComparer.Ordinal);
        public Dictionary<(int Shard, string Model), ShardModelActivity> Models { get; } = [];

        public RunRecord ToRecord() => new(
            New.Id, New.Pipeline, New.DefinitionFile, New.Trigger, State, New.ShardSize, RowsTotal, Shards.Count,
            Shards.Count(s => s.State == ShardState.Succeeded), CreatedAt, StartedAt, FinishedAt, Output, Error)
        {
            RowsDone = Shards.Sum(s => s.State == ShardState.Succeeded
                ? Math.Max(0, Math.Min(s.Range.Limit, (RowsTotal ?? 0) - s.Range.Offset))
                : Math.Min(s.Range.Limit, s.RowsDone)),
        };
    }

    private sealed class ShardEntry(ShardRange range)
    {
        public ShardRange Range { get; } = range;
        public ShardState State { get; set; } = ShardState.Pending;
        public int Attempts { get; set; }
        public string? Worker { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }
        public string? Error { get; set; }
        public IReadOnlyList<StepCounts> Steps { get; set; } = [];
        public long RowsDone { get; set; }
        public IReadOnlyList<string> Files { get; set; } = [];
    }
}

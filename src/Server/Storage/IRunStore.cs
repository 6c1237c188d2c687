namespace Distil.Server.Storage;

/// <summary>
/// Run history, metrics and shard results. Postgres (<see cref="PostgresRunStore"/>) when workers span
/// machines, memory plus the local disk (<see cref="InMemoryRunStore"/>) for one process; the API, the
/// dashboard and the jobs see only this interface.
/// </summary>
internal interface IRunStore
{
    /// <summary>Creates the schema if needed; safe to call from every process at every start.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task CreateRunAsync(NewRun run, CancellationToken cancellationToken);

    /// <summary>The definition text and the file it came from, for a worker to parse.</summary>
    Task<(string Json, string? File)?> GetDefinitionAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Records the shards and moves the run to Running; false when the run was planned already or is over.</summary>
    Task<bool> PlanShardsAsync(Guid runId, long rowsTotal, IReadOnlyList<ShardRange> shards, CancellationToken cancellationToken);

    /// <summary>Marks an attempt of a shard as started by <paramref name="worker"/>; null when there is nothing to do (shard done, run over).</summary>
    Task<ShardRange?> StartShardAsync(Guid runId, int shard, string worker, CancellationToken cancellationToken);

    /// <summary>Replaces a shard's live counters and its source rows done so far (best effort while it runs).</summary>
    Task ReportShardProgressAsync(Guid runId, int shard, IReadOnlyList<StepCounts> steps, long rowsDone, CancellationToken cancellationToken);

    /// <summary>Replaces a shard's latest figures of the served models it calls (best effort while it runs).</summary>
    Task ReportShardModelsAsync(Guid runId, int shard, IReadOnlyList<ShardModelActivity> models, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the shard's files and final counters and marks it done, atomically. Idempotent: a shard
    /// completed twice (a retry racing a slow worker) keeps the first result, so no row appears twice.
    /// </summary>
    Task<ShardCompletion> CompleteShardAsync(Guid runId, int shard, IReadOnlyList<ShardFile> files, IReadOnlyList<StepCounts> steps, CancellationToken cancellationToken);

    /// <summary>Records an attempt's error on the shard (the run goes on while retries are left).</summary>
    Task RecordShardErrorAsync(Guid runId, int shard, string error, CancellationToken cancellationToken);

    /// <summary>File names a completed shard stored, in a stable order.</summary>
    Task<IReadOnlyList<string>> GetShardFileNamesAsync(Guid runId, int shard, CancellationToken cancellationToken);

    /// <summary>Streams one stored shard file into <paramref name="destination"/>.</summary>
    Task CopyShardFileAsync(Guid runId, int shard, string name, Stream destination, CancellationToken cancellationToken);

    /// <summary>Moves a run whose shards are all done to Merging; false when it is finished, failed or cancelled.</summary>
    Task<bool> BeginMergeAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Marks the run succeeded with its output location and figures, and drops the shard results.</summary>
    Task FinishRunAsync(Guid runId, string output, string summaryJson, CancellationToken cancellationToken);

    Task FailRunAsync(Guid runId, string error, CancellationToken cancellationToken);

    /// <summary>
    /// Stores an input file for the run's workers: content-addressed by SHA-256, streamed in chunks, stored once however
    /// many runs read it, and linked to the run under <paramref name="path"/>. The in-memory store keeps nothing: its one
    /// process reads the inputs where the definition says.
    /// </summary>
    Task StoreInputAsync(Guid runId, string path, CancellationToken cancellationToken);

    /// <summary>The run's stored inputs (none in memory mode).</summary>
    Task<IReadOnlyList<RunInput>> GetInputsAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Streams a stored input's content into <paramref name="destination"/>.</summary>
    Task CopyInputAsync(string digest, Stream destination, CancellationToken cancellationToken);

    /// <summary>Records (or replaces) what a push_to_hub step of the run published.</summary>
    Task RecordPublicationAsync(Guid runId, Publication publication, CancellationToken cancellationToken);

    /// <summary>
    /// Appends a person's decision about one pair of the run's output to its review log (never changed, only appended;
    /// a row's latest entry counts). Postgres keeps it in <c>distil.reviews</c>; the single-process store in
    /// <c>review.jsonl</c> beside the run's merged output, where <c>distil publish</c> finds it.
    /// </summary>
    Task AppendReviewAsync(Guid runId, Distil.Steps.ReviewEntry entry, CancellationToken cancellationToken);

    /// <summary>The run's review log in the order it was appended.</summary>
    Task<IReadOnlyList<Distil.Steps.ReviewEntry>> GetReviewsAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Cancels a run that is not over; false when there was nothing to cancel.</summary>
    Task<bool> CancelRunAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// Adds what a shard's models cost since its last charge to the run's one spend row, atomically, and returns the
    /// run's total: <c>budget_usd</c> applies to the run as a whole, however many shards and workers share it.
    /// </summary>
    Task<decimal> ChargeAsync(Guid runId, decimal usd, CancellationToken cancellationToken);

    /// <summary>Cancels a run that is not over because its spend reached its budget (the error says so); false when it was over.</summary>
    Task<bool> StopAtBudgetAsync(Guid runId, decimal spentUsd, decimal budgetUsd, CancellationToken cancellationToken);

    Task<RunState?> GetRunStateAsync(Guid runId, CancellationToken cancellationToken);

    Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, CancellationToken cancellationToken);

    Task<RunDetails?> GetRunAsync(Guid runId, CancellationToken cancellationToken);

    Task UpsertScheduleAsync(ScheduleRecord schedule, CancellationToken cancellationToken);

    Task<ScheduleRecord?> GetScheduleAsync(string id, CancellationToken cancellationToken);

    /// <summary>Forgets a schedule's stored definition; false when there was none.</summary>
    Task<bool> DeleteScheduleAsync(string id, CancellationToken cancellationToken);
}

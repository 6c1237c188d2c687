namespace Distil.Server.Storage;

/// <summary>Where a run is in its life. Terminal states: Succeeded, Failed, Cancelled.</summary>
internal enum RunState
{
    Planning,
    Running,
    Merging,
    Succeeded,
    Failed,
    Cancelled,
}

internal enum ShardState
{
    Pending,
    Running,
    Succeeded,
}

/// <summary>What a submission records: the definition travels as text so that any worker can parse it.</summary>
/// <param name="DefinitionFile">The definition's full path where it was submitted; relative data paths resolve against its folder.</param>
/// <param name="Trigger">Who asked: <c>api</c>, or <c>schedule:&lt;id&gt;</c>.</param>
internal sealed record NewRun(Guid Id, string Pipeline, string? DefinitionFile, string DefinitionJson, int ShardSize, string Trigger);

/// <summary>A run as listed on the dashboard.</summary>
internal sealed record RunRecord(
    Guid Id,
    string Pipeline,
    string? DefinitionFile,
    string Trigger,
    RunState State,
    int ShardSize,
    long? RowsTotal,
    int ShardCount,
    int ShardsDone,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Output,
    string? Error)
{
    /// <summary>
    /// Source rows done: finished shards count their whole range; a running shard counts the rows its work steps (those
    /// that call models, see Jobs.ShardProgress) have all finished, from its live counters, so the figure moves within
    /// a shard. A step that drops rows makes a running shard's share an underestimate until the shard finishes.
    /// </summary>
    public long RowsDone { get; init; }
}

/// <summary>The rows a shard reads: source positions [Offset, Offset + Limit).</summary>
internal sealed record ShardRange(int Index, long Offset, long Limit);

internal sealed record ShardRecord(
    int Index,
    long Offset,
    long Limit,
    ShardState State,
    int Attempts,
    string? Worker,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error);

/// <summary>One step's counters, for a shard while it runs or summed over a run.</summary>
internal sealed record StepCounts(
    string Step,
    long RowsIn,
    long RowsOut,
    long Errors,
    long Dropped,
    long InputTokens,
    long OutputTokens,
    double Seconds);

/// <summary>Everything the dashboard shows about one run.</summary>
/// <param name="SummaryJson">Figures computed from the merged dataset (see Jobs.DatasetSummary), or null before the merge.</param>
/// <param name="Publications">What the run's push_to_hub steps published, one per step.</param>
/// <param name="Models">Each shard's latest figures of each served model it calls.</param>
internal sealed record RunDetails(RunRecord Run, IReadOnlyList<ShardRecord> Shards, IReadOnlyList<StepCounts> Steps, string? SummaryJson, IReadOnlyList<Publication>? Publications = null, IReadOnlyList<ShardModelActivity>? Models = null);

/// <summary>A served model's figures in one shard (<see cref="Distil.Pipeline.ModelActivity"/>), <paramref name="Seconds"/> after the shard started.</summary>
internal sealed record ShardModelActivity(int Shard, string Model, Distil.Pipeline.ModelActivity Activity, double Seconds);

/// <summary>A merged dataset on the Hub: the step that published it, the repository page and the commit (or the folder for <c>to_dir</c>).</summary>
internal sealed record Publication(string Step, string? RepoUrl, string? CommitUrl, DateTimeOffset PublishedAt);

/// <summary>An input file of a run, stored content-addressed: the full path the definition names, and its SHA-256.</summary>
internal sealed record RunInput(string Path, string Digest, long Size);

/// <summary>A file a shard produced, named relative to the pipeline's output folder.</summary>
internal sealed record ShardFile(string Name, string LocalPath);

/// <param name="Recorded">False when the shard was already complete: a second completion adds nothing.</param>
/// <param name="AllShardsDone">True when no shard of the run is left, so the merge may start.</param>
internal sealed record ShardCompletion(bool Recorded, bool AllShardsDone);

/// <summary>A recurring submission: the definition is kept so that a trigger on any worker can plan the run.</summary>
internal sealed record ScheduleRecord(string Id, string Pipeline, string? DefinitionFile, string DefinitionJson, string Cron, int ShardSize);

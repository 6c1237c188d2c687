using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>What a run did; written as manifest.json in the run directory when it starts and when it ends.</summary>
public sealed record RunManifest
{
    public required string Pipeline { get; init; }

    public required string Fingerprint { get; init; }

    public required string RunDirectory { get; init; }

    /// <summary>
    /// What the source read, pinned: a file's SHA-256, or a Hub dataset at the commit its revision resolved to
    /// (<c>hf://datasets/&lt;repo&gt;@&lt;sha&gt;/&lt;config&gt;/&lt;split&gt;</c>).
    /// </summary>
    public string? Source { get; init; }

    public IReadOnlyList<string> OutputFiles { get; init; } = [];

    /// <summary>running, succeeded, failed or cancelled.</summary>
    public string Status { get; init; } = RunStatus.Running;

    /// <summary>Why the run failed (null otherwise).</summary>
    public string? Error { get; init; }

    /// <summary>Why a cancelled run stopped: <see cref="RunStatus.BudgetReason"/> when it reached <see cref="BudgetUsd"/>; null otherwise.</summary>
    public string? Reason { get; init; }

    /// <summary>The run's spending limit in US dollars (null: none).</summary>
    public decimal? BudgetUsd { get; init; }

    /// <summary>
    /// What the finished batches cost, in US dollars, summed over the steps whose model has a <c>price</c> (null when
    /// none has): every row the models answered counts, rows dropped later (ties, filters, errors) included.
    /// </summary>
    public decimal? CostUsd { get; init; }

    public SourceRange Range { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    public IReadOnlyList<StepMetrics> Steps { get; init; } = [];

    /// <summary>Every model of the definition and the digest of what determines its outputs.</summary>
    public IReadOnlyList<ModelIdentity> Models { get; init; } = [];

    public const string FileName = "manifest.json";

    public static RunManifest Read(string path) =>
        JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), ManifestJson)
        ?? throw new InvalidDataException($"{path}: empty manifest");

    internal void Write(string runDirectory)
    {
        var path = Path.Combine(runDirectory, FileName);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, ManifestJson));
    }

    private static readonly JsonSerializerOptions ManifestJson = new(SnakeCaseJson.Options)
    {
        WriteIndented = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip,
    };
}

public static class RunStatus
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    /// <summary>What <c>distil run --plan</c> reports: nothing ran.</summary>
    public const string Planned = "planned";

    /// <summary>The <see cref="RunManifest.Reason"/> of a run stopped by its <c>budget_usd</c>.</summary>
    public const string BudgetReason = "budget";
}

/// <summary>One step's counts in a run.</summary>
public sealed record StepMetrics
{
    public required string Name { get; init; }

    public long RowsIn { get; init; }

    public long RowsOut { get; init; }

    /// <summary>Rows that got a row-level error in this step.</summary>
    public long Errors { get; init; }

    /// <summary>Rows dropped on purpose, by reason (duplicate, filtered, malformed_line, missing_in_branch, …).</summary>
    public IReadOnlyDictionary<string, long> Dropped { get; init; } = new Dictionary<string, long>();

    public long InputTokens { get; init; }

    public long OutputTokens { get; init; }

    /// <summary>The model the step calls (null for steps that call none).</summary>
    public string? Model { get; init; }

    /// <summary>Answers by the backend that produced them: the model id the server reported, then its
    /// <c>system_fingerprint</c> in brackets when it sent one (served models; empty for steps that call none).</summary>
    public IReadOnlyDictionary<string, long> Backends { get; init; } = new Dictionary<string, long>();

    /// <summary>Named counts the step reported about its work (<c>IStepContext.Tally</c>): e.g. a pairwise judge's
    /// rows judged and position-consistent verdicts. Empty for steps that report none.</summary>
    public IReadOnlyDictionary<string, long> Tallies { get; init; } = new Dictionary<string, long>();

    /// <summary>What the step's tokens cost at its model's <c>price</c>, in US dollars (null without a price).</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>Batches read back from the step cache instead of computed (in a plan: reusable).</summary>
    public long CachedBatches { get; init; }

    /// <summary>Batches of a caching step computed in this run (in a plan: to compute).</summary>
    public long ComputedBatches { get; init; }

    /// <summary>The step's <see cref="StepCacheKey"/> (caching steps only).</summary>
    public string? CacheKey { get; init; }

    public TimeSpan Elapsed { get; init; }
}

namespace Distil.Engine.Generation;

/// <summary>Counters of a scheduler since it started (read while it runs: values are approximate).</summary>
public sealed class SchedulerStatistics
{
    private long _decodeSteps;
    private long _generatedTokens;
    private long _prefillTokens;
    private long _reusedPrefixTokens;

    public long DecodeSteps => Interlocked.Read(ref _decodeSteps);

    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);

    public long PrefillTokens => Interlocked.Read(ref _prefillTokens);

    /// <summary>Prompt tokens not recomputed because their prefix was cached.</summary>
    public long ReusedPrefixTokens => Interlocked.Read(ref _reusedPrefixTokens);

    internal void AddStep() => Interlocked.Increment(ref _decodeSteps);

    internal void AddGenerated(long count) => Interlocked.Add(ref _generatedTokens, count);

    internal void AddPrefill(long count) => Interlocked.Add(ref _prefillTokens, count);

    internal void AddReused(long count) => Interlocked.Add(ref _reusedPrefixTokens, count);
}

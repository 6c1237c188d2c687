namespace Distil.Engine.Generation;

/// <summary>Counters of a scheduler since it started (read while it runs: values are approximate).</summary>
public sealed class SchedulerStatistics
{
    private long _decodeSteps;
    private long _generatedTokens;
    private long _prefillTokens;
    private long _reusedPrefixTokens;
    private long _prefillTicks;
    private long _decodeTicks;
    private long _samplingTicks;
    private long _busyTicks;
    private long _inPlaceSteps;
    private long _cacheGrowths;
    private long _merges;
    private long _mergedBytes;
    private long _mergeTicks;
    private long _rowsPlaced;

    public long DecodeSteps => Interlocked.Read(ref _decodeSteps);

    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);

    public long PrefillTokens => Interlocked.Read(ref _prefillTokens);

    /// <summary>Prompt tokens not recomputed because their prefix was cached.</summary>
    public long ReusedPrefixTokens => Interlocked.Read(ref _reusedPrefixTokens);

    /// <summary>Decode steps that wrote their keys and values into the batch cache's room instead of copying the
    /// cache into a longer one (see <see cref="SchedulerOptions.KvCapacityChunk"/>).</summary>
    public long InPlaceSteps => Interlocked.Read(ref _inPlaceSteps);

    /// <summary>Copies of the batch cache made only because its room ran out.</summary>
    public long CacheGrowths => Interlocked.Read(ref _cacheGrowths);

    /// <summary>Batch caches rebuilt through the merge graph (rows joining or leaving, columns dropped, room added).</summary>
    public long Merges => Interlocked.Read(ref _merges);

    /// <summary>Bytes of the caches those merges wrote (a load-independent measure of the copying they cost).</summary>
    public long MergedBytes => Interlocked.Read(ref _mergedBytes);

    /// <summary>Time inside batch merges and row placements (part of <see cref="BookkeepingTime"/>).</summary>
    public TimeSpan MergeTime => Read(ref _mergeTicks);

    /// <summary>Joining rows written into rows that finished sequences left, in the batch cache itself, instead of
    /// rebuilding the cache (see <see cref="SchedulerOptions.KvCapacityChunk"/>).</summary>
    public long RowsPlaced => Interlocked.Read(ref _rowsPlaced);

    /// <summary>Time spent inside the model's forward passes (prefill and decode).</summary>
    public TimeSpan ForwardTime => PrefillTime + DecodeTime;

    /// <summary>Time inside forward passes over prompts.</summary>
    public TimeSpan PrefillTime => Read(ref _prefillTicks);

    /// <summary>Time inside single-token decode steps.</summary>
    public TimeSpan DecodeTime => Read(ref _decodeTicks);

    /// <summary>Time choosing tokens from logits (constraints, sampler, detokenizer, stop strings), all rows.</summary>
    public TimeSpan SamplingTime => Read(ref _samplingTicks);

    /// <summary>Time the scheduler's loop was working (not waiting for requests); the part that is neither forward
    /// passes nor sampling is its bookkeeping (admission, inputs, cache merges and compaction).</summary>
    public TimeSpan BusyTime => Read(ref _busyTicks);

    public TimeSpan BookkeepingTime => BusyTime - ForwardTime - SamplingTime;

    internal void AddPrefillTime(TimeSpan elapsed) => Interlocked.Add(ref _prefillTicks, elapsed.Ticks);

    internal void AddDecodeTime(TimeSpan elapsed) => Interlocked.Add(ref _decodeTicks, elapsed.Ticks);

    internal void AddSamplingTime(TimeSpan elapsed) => Interlocked.Add(ref _samplingTicks, elapsed.Ticks);

    internal void AddBusyTime(TimeSpan elapsed) => Interlocked.Add(ref _busyTicks, elapsed.Ticks);

    internal void AddStep() => Interlocked.Increment(ref _decodeSteps);

    internal void AddInPlaceStep() => Interlocked.Increment(ref _inPlaceSteps);

    internal void AddCacheGrowth() => Interlocked.Increment(ref _cacheGrowths);

    internal void AddMerge(long bytes, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _merges);
        Interlocked.Add(ref _mergedBytes, bytes);
        Interlocked.Add(ref _mergeTicks, elapsed.Ticks);
    }

    internal void AddRowsPlaced(long rows, TimeSpan elapsed)
    {
        Interlocked.Add(ref _rowsPlaced, rows);
        Interlocked.Add(ref _mergeTicks, elapsed.Ticks);
    }

    internal void AddGenerated(long count) => Interlocked.Add(ref _generatedTokens, count);

    internal void AddPrefill(long count) => Interlocked.Add(ref _prefillTokens, count);

    internal void AddReused(long count) => Interlocked.Add(ref _reusedPrefixTokens, count);

    private static TimeSpan Read(ref long ticks) => TimeSpan.FromTicks(Interlocked.Read(ref ticks));
}

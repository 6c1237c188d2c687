using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// The runtime's <see cref="IStepContext"/>: counts errors, drops and tokens. One instance per batch (so a
/// batch's counts can be cached with it) or per step for sources, fan-ins and sinks.
/// </summary>
/// <param name="charge">Called with the tokens a step reports as it reports them (not with counts added from batches).</param>
internal sealed class StepContext(string stepName, ILogger logger, string runDirectory, IReadOnlyDictionary<string, IChatClient> models, Action<long, long>? charge = null) : IStepContext
{
    // Created on first use: a context is made per batch, and most batches drop nothing.
    private ConcurrentDictionary<string, long>? _dropped;
    private ConcurrentDictionary<string, long>? _backends;
    private ConcurrentDictionary<string, long>? _tallies;
    private ConcurrentDictionary<Row, byte>? _erroredRows;
    private long _errors;
    private long _inputTokens;
    private long _outputTokens;

    public string StepName => stepName;

    public ILogger Logger => logger;

    public string RunDirectory => runDirectory;

    public long Errors => Interlocked.Read(ref _errors);

    public long InputTokens => Interlocked.Read(ref _inputTokens);

    public long OutputTokens => Interlocked.Read(ref _outputTokens);

    public IReadOnlyDictionary<string, long> Dropped => (IReadOnlyDictionary<string, long>?)_dropped ?? NoDrops;

    /// <summary>Answers by the backend that produced them (<see cref="IStepContext.CountBackend"/>).</summary>
    public IReadOnlyDictionary<string, long> Backends => (IReadOnlyDictionary<string, long>?)_backends ?? NoDrops;

    /// <summary>Named counts the step reported (<see cref="IStepContext.Tally"/>).</summary>
    public IReadOnlyDictionary<string, long> Tallies => (IReadOnlyDictionary<string, long>?)_tallies ?? NoDrops;

    /// <summary>Rows marked failed through this context (so none can disappear from a batch unnoticed).</summary>
    public ICollection<Row> ErroredRows => _erroredRows?.Keys ?? [];

    public IChatClient GetModel(string modelName) =>
        models.TryGetValue(modelName, out var client)
            ? client
            : throw new InvalidOperationException($"step '{stepName}' asked for model '{modelName}', which the definition does not define");

    public void RecordRowError(Row row, string message)
    {
        row[Row.ErrorColumn] = message;
        var errored = LazyInitializer.EnsureInitialized(ref _erroredRows, () => new ConcurrentDictionary<Row, byte>(ReferenceEqualityComparer.Instance));
        if (errored.TryAdd(row, 0))
        {
            Interlocked.Increment(ref _errors);
        }
    }

    public void CountDropped(string reason, long count = 1) => Count(ref _dropped, reason, count);

    public void CountBackend(string backend) => Count(ref _backends, backend, 1);

    public void Tally(string name, long count = 1) => Count(ref _tallies, name, count);

    public void AddTokens(long inputTokens, long outputTokens)
    {
        CountTokens(inputTokens, outputTokens);
        charge?.Invoke(inputTokens, outputTokens);
    }

    private void CountTokens(long inputTokens, long outputTokens)
    {
        Interlocked.Add(ref _inputTokens, inputTokens);
        Interlocked.Add(ref _outputTokens, outputTokens);
    }

    /// <summary>Adds counts from a batch (computed now or read back from the cache).</summary>
    public void Add(BatchCounts counts)
    {
        Interlocked.Add(ref _errors, counts.Errors);
        CountTokens(counts.InputTokens, counts.OutputTokens); // charged when they were reported (or, from the cache, by the caller)
        foreach (var (reason, count) in counts.Dropped)
        {
            Count(ref _dropped, reason, count);
        }

        foreach (var (backend, count) in counts.Backends ?? NoDrops)
        {
            Count(ref _backends, backend, count);
        }

        foreach (var (name, count) in counts.Tallies ?? NoDrops)
        {
            Count(ref _tallies, name, count);
        }
    }

    /// <summary>Adds to a named count, creating the table on first use.</summary>
    private static void Count(ref ConcurrentDictionary<string, long>? counts, string key, long count) =>
        LazyInitializer.EnsureInitialized(ref counts, () => new ConcurrentDictionary<string, long>(StringComparer.Ordinal))
            .AddOrUpdate(key, count, (_, c) => c + count);

    public BatchCounts Counts() => new(Errors, InputTokens, OutputTokens, Snapshot(_dropped), Snapshot(_backends), Snapshot(_tallies));

    private static IReadOnlyDictionary<string, long> Snapshot(ConcurrentDictionary<string, long>? counts) =>
        counts is null || counts.IsEmpty ? NoDrops : new Dictionary<string, long>(counts, StringComparer.Ordinal);

    private static readonly IReadOnlyDictionary<string, long> NoDrops = new Dictionary<string, long>();
}

/// <summary>What one batch added to its step's metrics.</summary>
internal sealed record BatchCounts(long Errors, long InputTokens, long OutputTokens, IReadOnlyDictionary<string, long> Dropped, IReadOnlyDictionary<string, long>? Backends = null, IReadOnlyDictionary<string, long>? Tallies = null);

using System.Diagnostics;
using Distil.Pipeline.Telemetry;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// One step in the running network: its counts, progress, cache use and the edges to its successors. Output is
/// cut into each successor's <c>input_batch_size</c> by row position (so batches are the same on every run) and
/// copied for every branch after the first (so branches never share mutable rows). A <see cref="LoopNode"/> runs
/// on its own loop behind an inbox; a <see cref="FusedStep"/>, decided when the network is built, runs each batch
/// on its predecessor's loop as that predecessor hands it over.
/// </summary>
internal abstract class StepNode(StepDefinition definition, RunContext run) : IStepGauges
{
    private readonly List<Edge> _edges = [];
    private readonly Stopwatch _clock = new();
    private long _rowsIn;
    private long _rowsOut;
    private long _cachedBatches;
    private long _computedBatches;
    private long _lastReport;

    public StepDefinition Definition { get; } = definition;

    /// <summary>How the step's column names map onto the row's (null when it maps none).</summary>
    private protected ColumnView? View { get; } = ColumnView.For(definition);

    protected RunContext Run { get; } = run;

    /// <summary>Totals of the step (batch contexts add into it).</summary>
    public StepContext Totals { get; } = run.CreateContext(definition.Name);

    public void AddSuccessor(StepNode successor, int branch) => _edges.Add(new Edge(successor, branch, successor.Definition.InputBatchSize));

    public string Pipeline => Run.Pipeline;

    public string StepName => Definition.Name;

    /// <summary>Batches waiting in this step's input buffer.</summary>
    public virtual long QueuedBatches => 0;

    /// <summary>Batches this step is processing now.</summary>
    public virtual long ActiveBatches => 0;

    /// <summary>Tags of this step's measurements.</summary>
    protected System.Diagnostics.TagList MetricTags => DistilMetrics.StepTags(Run.Pipeline, Definition.Name);

    /// <summary>Takes one batch from a predecessor (into an inbox, or processed on the caller's loop).</summary>
    private protected abstract Task AcceptAsync(Inbound batch, CancellationToken cancellationToken);

    /// <summary>Told by each predecessor once it has handed over its last batch.</summary>
    private protected abstract Task PredecessorFinishedAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts the step's clock and makes its gauges observable, with those of the steps fused into it (they
    /// run on the same loop); disposing stops them all.
    /// </summary>
    private protected IDisposable Start()
    {
        _clock.Start();
        var started = new List<IDisposable> { DistilMetrics.Observe(this) };
        started.AddRange(_edges.Where(e => e.Target is FusedStep).Select(e => e.Target.Start()));
        return new Stop(_clock, started);
    }

    /// <summary>Passes on the rows still gathering towards each successor, tells each that this step is done, reports completion.</summary>
    private protected async Task FinishAsync(CancellationToken cancellationToken)
    {
        foreach (var edge in _edges)
        {
            await edge.FlushAsync(cancellationToken);
            await edge.Target.PredecessorFinishedAsync(cancellationToken);
        }

        Report(completed: true);
    }

    protected async Task EmitAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _rowsOut, rows.Count);
        // Every successor after the first gets its own copies, all taken before any successor sees a row: the first
        // edge can hand a full batch on at once, and the step behind it writes into the rows it gets. A copy taken
        // after that would carry its columns into the sibling branch, depending on timing.
        var perEdge = new IReadOnlyList<Row>[_edges.Count];
        for (var e = 0; e < _edges.Count; e++)
        {
            perEdge[e] = e == 0 ? rows : rows.Select(row => row.Clone()).ToArray();
        }

        for (var e = 0; e < _edges.Count; e++)
        {
            await _edges[e].AddAsync(perEdge[e], cancellationToken);
        }
    }

    /// <param name="cached">The batch came from the cache (or, in a plan, would).</param>
    /// <param name="computed">A caching step computed the batch (or, in a plan, would have to).</param>
    protected void CountIn(long rows, bool cached = false, bool computed = false)
    {
        Interlocked.Add(ref _rowsIn, rows);
        DistilMetrics.Rows.Add(rows, MetricTags);
        if (cached)
        {
            Interlocked.Increment(ref _cachedBatches);
        }

        if (computed)
        {
            Interlocked.Increment(ref _computedBatches);
        }

        Report(completed: false);
    }

    /// <summary>
    /// Runs one batch through <paramref name="step"/>, or reads it back from <paramref name="cache"/> when an earlier
    /// run finished it (with <c>--plan</c>, an uncached batch is marked as work to do instead); its counts go to the
    /// step's totals and the batch to the cached or computed tally.
    /// </summary>
    protected async Task<Row[]> ProcessBatchAsync(IBatchStep step, BatchCache? cache, Row[] rows)
    {
        var cancellationToken = Run.CancellationToken;
        if (cache is null)
        {
            var plain = Run.CreateContext(Definition.Name, Run.PriceOf(Definition));
            var result = await ProcessFreshAsync(step, rows, plain, cancellationToken);
            AddCounts(plain.Counts());
            CountIn(rows.Length);
            return result;
        }

        if (Run.Options.Plan && rows.Any(PlanPending.Is))
        {
            // Its input is not computed yet, so neither can its key be: it is work to do.
            CountIn(rows.Length, computed: true);
            return rows;
        }

        var key = cache.KeyOf(rows);
        if (!Run.Options.Fresh && await cache.TryReadAsync(key, rows, cancellationToken) is { } cached)
        {
            AddCounts(cached.Counts);
            if (Run.PriceOf(Definition) is { } price)
            {
                Run.Spend.Add(price.Cost(cached.Counts.InputTokens, cached.Counts.OutputTokens)); // a resumed run's budget covers what its cache cost
            }

            CountIn(rows.Length, cached: true);
            return cached.Rows;
        }

        if (Run.Options.Plan)
        {
            CountIn(rows.Length, computed: true);
            return PlanPending.Mark(rows);
        }

        var context = Run.CreateContext(Definition.Name, Run.PriceOf(Definition));
        var output = await ProcessFreshAsync(step, rows, context, cancellationToken);
        var counts = context.Counts();
        await cache.WriteAsync(key, rows, output, counts, cancellationToken);
        AddCounts(counts);
        CountIn(rows.Length, computed: true);
        return output;
    }

    private void AddCounts(BatchCounts counts)
    {
        Totals.Add(counts);
        if (counts.Errors > 0)
        {
            DistilMetrics.RowErrors.Add(counts.Errors, MetricTags);
        }
    }

    private async Task<Row[]> ProcessFreshAsync(IBatchStep step, Row[] rows, StepContext context, CancellationToken cancellationToken)
    {
        // Model calls made from here on are measured against this step.
        DistilMetrics.EnterStep(Definition.Name);

        // Rows failed earlier lack what the failing step should have added; the step never sees them.
        var healthy = new List<Row>(rows.Length);
        List<Row>? failed = null;
        foreach (var row in rows)
        {
            if (row.HasError)
            {
                (failed ??= []).Add(row);
            }
            else
            {
                healthy.Add(View is null ? row : row.ViewAs(View));
            }
        }

        IReadOnlyList<Row> result = healthy.Count == 0 ? [] : await step.ProcessAsync(healthy, context, cancellationToken);

        // A row the step marked failed stays in the output even if the step left it out: errors are never silent.
        var kept = result.Count == healthy.Count ? null : result.ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var row in context.ErroredRows)
        {
            if (kept is not null && !kept.Contains(row))
            {
                (failed ??= []).Add(ColumnMappings.FromStep(Definition, View, row));
            }
        }

        if (View is not null)
        {
            result = result.Select(row => ColumnMappings.FromStep(Definition, View, row)).ToList();
        }

        return RowOrder.Merge(result, failed, Definition.Name);
    }

    /// <summary>Rows of the run's source this step has finished with, for progress against the source's row count.</summary>
    protected virtual long RowsDone => Definition.Step is ISourceStep ? RowsOut : Interlocked.Read(ref _rowsIn);

    protected long RowsOut => Interlocked.Read(ref _rowsOut);

    private void Report(bool completed)
    {
        if (Run.Progress is null)
        {
            return;
        }

        // A few reports a second are enough for a progress bar; more would cost more than the rows.
        var now = Stopwatch.GetTimestamp();
        var last = Interlocked.Read(ref _lastReport);
        if (!completed && Stopwatch.GetElapsedTime(last, now) < TimeSpan.FromMilliseconds(200))
        {
            return;
        }

        if (!completed && Interlocked.CompareExchange(ref _lastReport, now, last) != last)
        {
            return;
        }

        Run.Progress.Report(new StepProgress(Definition.Name, RowsDone, Run.RowsTotal, Totals.InputTokens, Totals.OutputTokens)
        {
            Errors = Totals.Errors,
            Completed = completed,
            Model = Definition.Model,
            ModelActivity = Run.ActivityOf(Definition),
        });
    }

    public StepMetrics Metrics() => new()
    {
        Name = Definition.Name,
        RowsIn = Interlocked.Read(ref _rowsIn),
        RowsOut = Interlocked.Read(ref _rowsOut),
        Errors = Totals.Errors,
        Dropped = new Dictionary<string, long>(Totals.Dropped, StringComparer.Ordinal),
        Backends = new Dictionary<string, long>(Totals.Backends, StringComparer.Ordinal),
        Tallies = new Dictionary<string, long>(Totals.Tallies, StringComparer.Ordinal),
        InputTokens = Totals.InputTokens,
        OutputTokens = Totals.OutputTokens,
        Model = Definition.Model,
        CostUsd = Run.PriceOf(Definition)?.Cost(Totals.InputTokens, Totals.OutputTokens),
        CachedBatches = Interlocked.Read(ref _cachedBatches),
        ComputedBatches = Interlocked.Read(ref _computedBatches),
        CacheKey = Run.StepKeys.GetValueOrDefault(Definition.Name),
        Elapsed = _clock.Elapsed,
    };

    /// <summary>Output towards one successor: rows gather until a whole batch is ready.</summary>
    private sealed class Edge(StepNode target, int branch, int batchSize)
    {
        private Row[] _buffer = new Row[batchSize];
        private int _count;
        private long _seq;

        public StepNode Target { get; } = target;

        public async Task AddAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
        {
            for (var i = 0; i < rows.Count; i++)
            {
                _buffer[_count++] = rows[i];
                if (_count == batchSize)
                {
                    await SendAsync(cancellationToken);
                }
            }
        }

        public async Task FlushAsync(CancellationToken cancellationToken)
        {
            if (_count > 0)
            {
                Array.Resize(ref _buffer, _count);
                await SendAsync(cancellationToken);
            }
        }

        private async Task SendAsync(CancellationToken cancellationToken)
        {
            var batch = new Inbound(branch, _seq++, _buffer);
            _buffer = new Row[batchSize];
            _count = 0;
            await Target.AcceptAsync(batch, cancellationToken);
        }
    }

    private sealed class Stop(Stopwatch clock, List<IDisposable> started) : IDisposable
    {
        public void Dispose()
        {
            clock.Stop();
            started.ForEach(s => s.Dispose());
        }
    }
}

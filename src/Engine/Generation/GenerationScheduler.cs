using System.Threading.Channels;
using Distil.Engine.Onnx;

namespace Distil.Engine.Generation;

/// <summary>
/// One loop per model that decodes every admitted sequence together (continuous batching). The batch's KV
/// cache has one row per sequence; all rows share the column count, each row's tokens are right-aligned and
/// its leading columns masked as padding, and each row carries its own position ids. A request joins by
/// being prefilled on its own (in chunks bounded by a logits budget, starting from a cached shared prefix
/// when there is one) and merged in; a finished row leaves at once and its slot is refilled without
/// draining the batch; columns that are padding for every remaining row are dropped at the same time.
/// </summary>
internal sealed class GenerationScheduler : IAsyncDisposable
{
    private readonly OnnxCausalLM _model;
    private readonly SchedulerOptions _options;
    private readonly Channel<GenerationRequest> _queue = Channel.CreateUnbounded<GenerationRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _shutdown = new();
    private readonly PrefixCache _prefixCache;
    private readonly int _context;
    private readonly int _prefillChunk;
    private readonly Task _loop;

    public GenerationScheduler(OnnxCausalLM model, SchedulerOptions options)
    {
        _model = model;
        _options = options;
        _context = model.Config.MaxPositionEmbeddings;
        _prefixCache = new PrefixCache(options.PrefixCacheBytes);
        _prefillChunk = (int)Math.Clamp(options.PrefillLogitsBudgetBytes / (4L * model.VocabSize), 1, 512);
        _loop = Task.Run(RunAsync);
    }

    public SchedulerStatistics Statistics { get; } = new();

    public int ContextLength => _context;

    public Task<GenerationOutcome> Submit(GenerationRequest request)
    {
        if (!_queue.Writer.TryWrite(request))
        {
            request.Completion.TrySetException(new ObjectDisposedException(nameof(GenerationScheduler)));
        }

        return request.Completion.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _shutdown.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _prefixCache.Dispose();
        _shutdown.Dispose();
    }

    private async Task RunAsync()
    {
        var active = new List<Sequence>();
        var pending = new Queue<GenerationRequest>();
        KvState? batch = null;
        var logits = new float[_options.MaxBatchSize * _model.VocabSize];
        try
        {
            while (true)
            {
                while (_queue.Reader.TryRead(out var request))
                {
                    pending.Enqueue(request);
                }

                if (active.Count == 0 && pending.Count == 0)
                {
                    if (!await _queue.Reader.WaitToReadAsync(_shutdown.Token).ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                var joiners = new List<(Sequence Sequence, KvState Cache)>();
                if (_options.Continuous || active.Count == 0)
                {
                    while (active.Count + joiners.Count < _options.MaxBatchSize && pending.TryDequeue(out var request))
                    {
                        if (Prefill(request) is { } joiner)
                        {
                            joiners.Add(joiner);
                        }
                    }
                }

                batch = Rearrange(batch, active, joiners);
                if (batch is null)
                {
                    continue;
                }

                try
                {
                    var next = DecodeStep(batch, active, logits);
                    batch.Dispose();
                    batch = next;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    foreach (var sequence in active)
                    {
                        sequence.Request.Completion.TrySetException(e);
                    }

                    active.Clear();
                    batch.Dispose();
                    batch = null;
                }
            }
        }
        finally
        {
            batch?.Dispose();
            var disposed = new ObjectDisposedException(nameof(GenerationScheduler), "the model was disposed while the request was running");
            foreach (var sequence in active)
            {
                sequence.Request.Completion.TrySetException(disposed);
            }

            while (pending.TryDequeue(out var request) || _queue.Reader.TryRead(out request))
            {
                request.Completion.TrySetException(disposed);
            }
        }
    }

    /// <summary>Runs one token for every row; rows that finish are marked, not yet removed.</summary>
    private KvState DecodeStep(KvState batch, List<Sequence> active, float[] logits)
    {
        var n = active.Count;
        var total = batch.Length + 1;
        var ids = new long[n];
        var positions = new long[n];
        var mask = new long[n * total];
        for (var r = 0; r < n; r++)
        {
            var sequence = active[r];
            ids[r] = sequence.LastToken;
            positions[r] = sequence.Length;
            mask.AsSpan(r * total + sequence.PadLeft, total - sequence.PadLeft).Fill(1);
        }

        var next = _model.Forward(ids, mask, positions, n, 1, batch, logits);
        Statistics.AddStep();
        for (var r = 0; r < n; r++)
        {
            var sequence = active[r];
            sequence.Length++;
            Advance(sequence, logits.AsSpan(r * _model.VocabSize, _model.VocabSize));
        }

        return next;
    }

    /// <summary>
    /// Prefills a request alone (batch of one), from the longest cached shared prefix, in chunks; keeps a
    /// snapshot of a newly shared prefix; chooses the first token. Null when the request is already done.
    /// </summary>
    private (Sequence, KvState)? Prefill(GenerationRequest request)
    {
        var tokens = request.PromptTokens;
        if (request.CancellationToken.IsCancellationRequested)
        {
            request.Completion.TrySetCanceled(request.CancellationToken);
            return null;
        }

        if (tokens.Length == 0 || tokens.Length >= _context)
        {
            request.Completion.TrySetException(new GenerationRejectedException(tokens.Length == 0
                ? "the prompt is empty"
                : $"the prompt has {tokens.Length} tokens but the model's context is {_context} (max_position_embeddings in config.json); shorten it or leave room for the answer"));
            return null;
        }

        KvState? past = null;
        var pastOwned = true;
        try
        {
            var (cached, done, snapshotAt) = _prefixCache.Plan(tokens);
            past = cached ?? _model.EmptyCache(1);
            pastOwned = cached is null;
            Statistics.AddReused(done);
            var logits = new float[_model.VocabSize];
            while (done < tokens.Length)
            {
                var end = Math.Min(tokens.Length, done + _prefillChunk);
                if (snapshotAt > done && snapshotAt < end)
                {
                    end = snapshotAt;
                }

                var ids = new long[end - done];
                var positions = new long[end - done];
                for (var i = done; i < end; i++)
                {
                    ids[i - done] = tokens[i];
                    positions[i - done] = i;
                }

                var mask = new long[end];
                mask.AsSpan().Fill(1);
                var next = _model.Forward(ids, mask, positions, 1, end - done, past, logits);
                if (pastOwned)
                {
                    past.Dispose();
                }

                past = next;
                pastOwned = true;
                if (end == snapshotAt)
                {
                    // A compact copy: the step's outputs also hold its [1, chunk, vocab] logits.
                    var snapshot = Copy(past);
                    if (!_prefixCache.Add(tokens[..end], snapshot))
                    {
                        snapshot.Dispose();
                    }
                }

                Statistics.AddPrefill(end - done);
                done = end;
            }

            var sequence = new Sequence(request) { Length = tokens.Length };
            if (Advance(sequence, logits))
            {
                past.Dispose();
                return null;
            }

            return (sequence, past);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (pastOwned)
            {
                past?.Dispose();
            }

            request.Completion.TrySetException(e);
            return null;
        }
    }

    private KvState Copy(KvState cache) =>
        _model.Merger.Merge(new KvMerger.Part(cache, [0], 0), new KvMerger.Part(cache, [], 0));

    /// <summary>Takes the sampled token of a sequence and completes it when a stop condition holds.</summary>
    private bool Advance(Sequence sequence, Span<float> logits)
    {
        var request = sequence.Request;
        try
        {
            if (request.CancellationToken.IsCancellationRequested)
            {
                request.Completion.TrySetCanceled(request.CancellationToken);
                return sequence.Done = true;
            }

            var token = request.Handler.Choose(logits, sequence.Generated);
            sequence.Generated.Add(token);
            sequence.LastToken = token;
            Statistics.AddGenerated(1);
            FinishKind? finish = null;
            if (request.StopTokenIds.Contains(token) || request.Handler.Accept(token))
            {
                finish = FinishKind.Stop;
            }
            else if (sequence.Generated.Count >= request.MaxNewTokens || sequence.Length + 1 > _context)
            {
                finish = FinishKind.Length;
            }

            if (finish is { } kind)
            {
                request.Completion.TrySetResult(new GenerationOutcome([.. sequence.Generated], kind, request.PromptTokens.Length));
                return sequence.Done = true;
            }

            return false;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            request.Completion.TrySetException(e);
            return sequence.Done = true;
        }
    }

    /// <summary>Drops finished rows, compacts all-padding leading columns and appends the joiners' caches
    /// right-aligned, in one pass per joiner through the merge graph.</summary>
    private KvState? Rearrange(KvState? batch, List<Sequence> active, List<(Sequence Sequence, KvState Cache)> joiners)
    {
        var keep = active.Where(s => !s.Done).ToList();
        if (batch is not null && keep.Count == active.Count && joiners.Count == 0)
        {
            return batch;
        }

        active.Clear();
        active.AddRange(keep);
        if (keep.Count == 0)
        {
            batch?.Dispose();
            batch = null;
        }

        foreach (var (sequence, cache) in joiners)
        {
            if (batch is null)
            {
                batch = cache;
                sequence.PadLeft = 0;
                sequence.Row = 0;
                active.Add(sequence);
                continue;
            }

            var merged = Merge(batch, active, new KvMerger.Part(cache, [0], 0));
            sequence.PadLeft = merged.Length - cache.Length;
            sequence.Row = active.Count;
            active.Add(sequence);
            batch.Dispose();
            cache.Dispose();
            batch = merged;
        }

        if (joiners.Count == 0 && batch is not null && keep.Count > 0)
        {
            var merged = Merge(batch, active, new KvMerger.Part(batch, [], 0));
            batch.Dispose();
            batch = merged;
        }

        return batch;
    }

    /// <summary>Keeps <paramref name="rows"/>' rows of <paramref name="batch"/> (in that order), cut to their
    /// common leftmost real column, and stacks <paramref name="extra"/> below; fixes the rows' padding.</summary>
    private KvState Merge(KvState batch, List<Sequence> rows, KvMerger.Part extra)
    {
        var start = rows.Count == 0 ? batch.Length : rows.Min(s => s.PadLeft);
        var width = batch.Length - start;
        var length = Math.Max(width, extra.Rows.Length == 0 ? 0 : extra.Width);
        var indices = rows.Select(s => (long)s.Row).ToArray();
        var merged = _model.Merger.Merge(new KvMerger.Part(batch, indices, start), extra.Rows.Length == 0 ? extra with { StartColumn = start } : extra);
        for (var i = 0; i < rows.Count; i++)
        {
            rows[i].PadLeft += length - batch.Length;
            rows[i].Row = i;
        }

        return merged;
    }

    private sealed class Sequence(GenerationRequest request)
    {
        public GenerationRequest Request { get; } = request;

        public List<int> Generated { get; } = [];

        /// <summary>Tokens whose keys and values are in the cache; the next token's position.</summary>
        public int Length { get; set; }

        public int LastToken { get; set; }

        /// <summary>Leading padding columns of this row in the batch cache.</summary>
        public int PadLeft { get; set; }

        /// <summary>This sequence's row in the batch cache.</summary>
        public int Row { get; set; }

        public bool Done { get; set; }
    }
}

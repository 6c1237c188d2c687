using System.Diagnostics;
using System.Threading.Channels;
using Distil.Engine.Onnx;

namespace Distil.Engine.Generation;

/// <summary>
/// One loop per model that decodes every admitted sequence together (continuous batching). The batch's KV
/// cache has one row per sequence; all rows share the column count and each row carries its own position ids.
/// For graphs that mask per column, each row's tokens are right-aligned and its leading columns masked as
/// padding. For graphs whose attention takes each row's length from its mask (GroupQueryAttention), rows are
/// left-aligned — tokens from column 0, padding after — and attention reduces over each row's own tokens, so a
/// row's arithmetic is the same whatever rows share its batch (batch-invariant decoding). A request joins by
/// being prefilled on its own (in chunks bounded by a logits budget, or by a token budget for graphs that compute
/// only each row's last logits, starting from a cached shared prefix
/// when there is one) and merged in; a finished row leaves at once and its slot is refilled without
/// draining the batch; columns that are padding for every remaining row are dropped at the same time.
/// </summary>
internal sealed class GenerationScheduler : IAsyncDisposable
{
    /// <summary>Room laid out for rows' remaining budgets is rounded up to this many columns.</summary>
    private const int RoomQuantum = 32;

    private readonly OnnxCausalLM _model;
    private readonly SchedulerOptions _options;
    private readonly Channel<GenerationRequest> _queue = Channel.CreateUnbounded<GenerationRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _shutdown = new();
    private readonly PrefixCache _prefixCache;
    private readonly int _context;
    private readonly long _passTokens;
    private readonly int _prefillChunk;
    private readonly bool _leftAligned;
    private readonly int _capacityChunk;
    private readonly StepInputs _inputs = new();
    private readonly Task _loop;

    public GenerationScheduler(OnnxCausalLM model, SchedulerOptions options)
    {
        _model = model;
        _options = options;
        _context = model.Config.ContextLength;
        _prefixCache = new PrefixCache(options.PrefixCacheBytes);
        // A graph that computes only the logits asked for keeps a pass's logits at [rows, 1, vocab] whatever its width,
        // so its passes are bounded by tokens; otherwise by the [rows, width, vocab] logits they would write.
        _passTokens = Math.Max(1, model.Layout.SelectsLogitsPositions ? options.PrefillTokenBudget : options.PrefillLogitsBudgetBytes / (4L * model.VocabSize));
        _prefillChunk = (int)Math.Min(_passTokens, 512);
        _leftAligned = model.Layout.LengthsFromMask;
        _capacityChunk = _leftAligned ? Math.Max(0, options.KvCapacityChunk) : 0;
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

    /// <summary>Ends when the loop has stopped and released its caches (after <see cref="Stop"/>).</summary>
    public Task Completion => _loop;

    /// <summary>Stops the loop without waiting: running and waiting requests fail with ObjectDisposedException.</summary>
    public void Stop()
    {
        _queue.Writer.TryComplete();
        try
        {
            _shutdown.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var active = new List<Sequence>();
        var pending = new Queue<GenerationRequest>();
        using var batch = KvHandle.Empty();
        var logits = new float[_options.MaxBatchSize * _model.VocabSize];
        try
        {
            while (true)
            {
                if (_shutdown.IsCancellationRequested)
                {
                    return;
                }

                while (_queue.Reader.TryRead(out var request))
                {
                    pending.Enqueue(request);
                }

                if (active.Count == 0 && pending.Count == 0)
                {
                    try
                    {
                        if (!await _queue.Reader.WaitToReadAsync(_shutdown.Token).ConfigureAwait(false))
                        {
                            return;
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    continue;
                }

                var started = Stopwatch.GetTimestamp();
                try
                {
                    // Rows that finished last step are free already: their joiners take them in this Rearrange.
                    var running = active.Count(s => !s.Done);
                    var joiners = _options.Continuous || running == 0 ? Admit(pending, _options.MaxBatchSize - running) : [];
                    Rearrange(batch, active, joiners);
                    if (!batch.HasValue)
                    {
                        continue;
                    }

                    MakeRoom(batch, active);

                    try
                    {
                        batch.Reset(DecodeStep(batch.State, active, logits));
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        foreach (var sequence in active)
                        {
                            sequence.Request.Completion.TrySetException(e);
                        }

                        active.Clear();
                        batch.Reset(null);
                    }
                }
                finally
                {
                    Statistics.AddBusyTime(Stopwatch.GetElapsedTime(started));
                }
            }
        }
        finally
        {
            var disposed = new ObjectDisposedException(nameof(GenerationScheduler), "the model was disposed while the request was running");
            foreach (var sequence in active)
            {
                sequence.Request.Completion.TrySetException(disposed);
            }

            while (pending.TryDequeue(out var request) || _queue.Reader.TryRead(out request))
            {
                request.Completion.TrySetException(disposed);
            }

            _prefixCache.Dispose();
        }
    }

    /// <summary>Runs one token for every row; rows that finish are marked, not yet removed.</summary>
    private KvState DecodeStep(KvState batch, List<Sequence> active, float[] logits)
    {
        var rows = batch.Batch;
        var total = batch.Length + 1;
        var ids = _inputs.Ids(rows);
        var positions = _inputs.Positions(rows);
        var mask = _inputs.Mask(rows * total);
        // A row no sequence holds (left by a finished one, kept for a joiner) runs a one-token sequence of its own at
        // column 0: its mask is valid and it writes nothing the other rows read.
        Array.Clear(ids, 0, rows);
        Array.Clear(positions, 0, rows);
        for (var r = 0; r < rows; r++)
        {
            mask[r * total] = 1;
        }

        foreach (var sequence in active)
        {
            var r = sequence.Row;
            ids[r] = sequence.LastToken;
            positions[r] = sequence.Length;
            if (_leftAligned)
            {
                mask.AsSpan(r * total, sequence.Length + 1).Fill(1);
            }
            else
            {
                // Undo the free-row mark at column 0: a right-aligned row's leading columns are padding.
                mask.AsSpan(r * total, total).Clear();
                mask.AsSpan(r * total + sequence.PadLeft, total - sequence.PadLeft).Fill(1);
            }
        }

        if (batch.HasRoom)
        {
            Statistics.AddInPlaceStep();
        }

        var started = Stopwatch.GetTimestamp();
        var next = _model.Forward(ids, mask, positions, rows, 1, batch, []);
        Statistics.AddDecodeTime(Stopwatch.GetElapsedTime(started));
        Statistics.AddStep();
        // Rows are independent (each has its own sampler and handler), and the session's threads are idle now:
        // sampling over a 100k vocabulary per row is worth spreading over the cores.
        void AdvanceRow(int i)
        {
            var sequence = active[i];
            sequence.Length++;
            Advance(sequence, _model.LastLogits(next, sequence.Row, logits));
        }

        var n = active.Count;
        started = Stopwatch.GetTimestamp();
        if (n >= 4)
        {
            Parallel.For(0, n, AdvanceRow);
        }
        else
        {
            for (var r = 0; r < n; r++)
            {
                AdvanceRow(r);
            }
        }

        Statistics.AddSamplingTime(Stopwatch.GetElapsedTime(started));
        return next;
    }

    /// <summary>
    /// Takes up to <paramref name="free"/> waiting requests and prefills them: those that start from a cached shared
    /// prefix (or whose prefix is worth caching) one by one, the rest together (one left-padded batch in column
    /// chunks; for left-aligned caches, right-padded batches of one pass each, and prompts longer than a pass alone).
    /// Each joiner's first token is chosen; requests that are already done are completed and left out.
    /// </summary>
    private List<Joiner> Admit(Queue<GenerationRequest> pending, int free)
    {
        var joiners = new List<Joiner>();
        var together = new List<GenerationRequest>();
        while (free > 0 && pending.TryDequeue(out var request))
        {
            if (!Admissible(request))
            {
                continue;
            }

            free--;
            var plan = _prefixCache.Plan(request.PromptTokens);
            if (plan.Cache is null && plan.SnapshotAt == 0 && !(_leftAligned && request.PromptTokens.Length > _prefillChunk))
            {
                together.Add(request);
            }
            else if (PrefillAlone(request, plan) is { } joiner)
            {
                joiners.Add(joiner);
            }
        }

        foreach (var pass in _leftAligned ? OnePassGroups(together) : together.Count > 0 ? [together] : [])
        {
            if ((_leftAligned ? PrefillRightPadded(pass) : PrefillTogether(pass)) is { } group)
            {
                joiners.Add(group);
            }
        }

        return joiners;
    }

    /// <summary>Consecutive groups whose right-padded rows × width fit a pass's budget
    /// (GroupQueryAttention takes a batch's prompt in one pass or one row at a time).</summary>
    private IEnumerable<List<GenerationRequest>> OnePassGroups(List<GenerationRequest> requests)
    {
        var group = new List<GenerationRequest>();
        var width = 0;
        foreach (var request in requests)
        {
            var wider = Math.Max(width, request.PromptTokens.Length);
            if (group.Count > 0 && (group.Count + 1) * wider > _passTokens)
            {
                yield return group;
                group = [];
                wider = request.PromptTokens.Length;
            }

            group.Add(request);
            width = wider;
        }

        if (group.Count > 0)
        {
            yield return group;
        }
    }

    /// <summary>Prefills left-aligned rows in one pass: each prompt from column 0, padding after, each row's
    /// logits read at its own last token.</summary>
    private Joiner? PrefillRightPadded(List<GenerationRequest> requests)
    {
        var k = requests.Count;
        var width = requests.Max(r => r.PromptTokens.Length);
        var logits = new float[k * _model.VocabSize];
        using var past = KvHandle.Empty();
        try
        {
            var ids = new long[k * width];
            var positions = new long[k * width];
            var mask = new long[k * width];
            var lastColumns = new int[k];
            for (var r = 0; r < k; r++)
            {
                var tokens = requests[r].PromptTokens;
                for (var c = 0; c < tokens.Length; c++)
                {
                    ids[(r * width) + c] = tokens[c];
                    positions[(r * width) + c] = c;
                }

                mask.AsSpan(r * width, tokens.Length).Fill(1);
                lastColumns[r] = tokens.Length - 1;
            }

            using (var empty = _model.EmptyCache(k))
            {
                var started = Stopwatch.GetTimestamp();
                past.Reset(_model.Forward(ids, mask, positions, k, width, empty, logits, lastColumns));
                Statistics.AddPrefillTime(Stopwatch.GetElapsedTime(started));
            }

            Statistics.AddPrefill(requests.Sum(r => r.PromptTokens.Length));
            return Join(requests, past, logits, width);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Fail(requests, e);
        }
    }

    /// <summary>A prefill that threw fails every request it carried (its handle releases what it had computed).</summary>
    private static Joiner? Fail(List<GenerationRequest> requests, Exception error)
    {
        foreach (var request in requests)
        {
            request.Completion.TrySetException(error);
        }

        return null;
    }

    /// <summary>Chooses each prefilled row's first token; the rows not done join the batch with the cache, which
    /// leaves <paramref name="past"/> for the joiner (and stays there, to be disposed, when every row is done).</summary>
    private Joiner? Join(List<GenerationRequest> requests, KvHandle past, float[] logits, int width)
    {
        var started = Stopwatch.GetTimestamp();
        var sequences = new List<Sequence>();
        for (var r = 0; r < requests.Count; r++)
        {
            var length = requests[r].PromptTokens.Length;
            var sequence = new Sequence(requests[r]) { Length = length, PadLeft = _leftAligned ? 0 : width - length, Row = r };
            if (!Advance(sequence, logits.AsSpan(r * _model.VocabSize, _model.VocabSize)))
            {
                sequences.Add(sequence);
            }
        }

        Statistics.AddSamplingTime(Stopwatch.GetElapsedTime(started));
        return sequences.Count == 0 ? null : new Joiner(sequences, past.Release());
    }

    private bool Admissible(GenerationRequest request)
    {
        var length = request.PromptTokens.Length;
        if (request.CancellationToken.IsCancellationRequested)
        {
            request.Completion.TrySetCanceled(request.CancellationToken);
            return false;
        }

        if (length == 0 || length >= _context)
        {
            request.Completion.TrySetException(new GenerationRejectedException(length == 0
                ? "the prompt is empty"
                : $"the prompt has {length} tokens but the model's context is {_context} ({_model.Config.Context.Field} in {Path.GetFileName(_model.Config.Context.File)}); shorten it or leave room for the answer"));
            return false;
        }

        return true;
    }

    /// <summary>Prefills requests as one batch, right-aligned with left padding, in column chunks within a pass's
    /// budget; only the last chunk's logits are read.</summary>
    private Joiner? PrefillTogether(List<GenerationRequest> requests)
    {
        var k = requests.Count;
        var width = requests.Max(r => r.PromptTokens.Length);
        var chunk = (int)Math.Clamp(_passTokens / k, 1, 512);
        var logits = new float[k * _model.VocabSize];
        using var past = KvHandle.Owning(_model.EmptyCache(k));
        try
        {
            for (var from = 0; from < width; from += chunk)
            {
                var to = Math.Min(width, from + chunk);
                var columns = to - from;
                var ids = new long[k * columns];
                var positions = new long[k * columns];
                var mask = new long[k * to];
                for (var r = 0; r < k; r++)
                {
                    var tokens = requests[r].PromptTokens;
                    var pad = width - tokens.Length;
                    for (var c = from; c < to; c++)
                    {
                        if (c >= pad)
                        {
                            ids[(r * columns) + c - from] = tokens[c - pad];
                            positions[(r * columns) + c - from] = c - pad;
                        }
                    }

                    if (pad < to)
                    {
                        mask.AsSpan((r * to) + pad, to - pad).Fill(1);
                    }
                }

                var started = Stopwatch.GetTimestamp();
                past.Reset(_model.Forward(ids, mask, positions, k, columns, past.State, to == width ? logits : []));
                Statistics.AddPrefillTime(Stopwatch.GetElapsedTime(started));
            }

            Statistics.AddPrefill(requests.Sum(r => r.PromptTokens.Length));
            return Join(requests, past, logits, width);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Fail(requests, e);
        }
    }

    /// <summary>
    /// Prefills one request from the longest cached shared prefix, in chunks, keeping a snapshot of a newly shared
    /// prefix; chooses the first token. Null when the request is already done.
    /// </summary>
    private Joiner? PrefillAlone(GenerationRequest request, (KvState? Cache, int Length, int SnapshotAt) plan)
    {
        var tokens = request.PromptTokens;
        var (cached, done, snapshotAt) = plan;
        using var past = cached is null ? KvHandle.Owning(_model.EmptyCache(1)) : KvHandle.Borrowing(cached);
        try
        {
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
                var started = Stopwatch.GetTimestamp();
                past.Reset(_model.Forward(ids, mask, positions, 1, end - done, past.State, end == tokens.Length ? logits : []));
                Statistics.AddPrefillTime(Stopwatch.GetElapsedTime(started));
                if (end == snapshotAt)
                {
                    // A compact copy: the step's outputs also hold its [1, chunk, vocab] logits.
                    var snapshot = Copy(past.State);
                    if (!_prefixCache.Add(tokens[..end], snapshot))
                    {
                        snapshot.Dispose();
                    }
                }

                Statistics.AddPrefill(end - done);
                done = end;
            }

            var sequence = new Sequence(request) { Length = tokens.Length };
            var sampling = Stopwatch.GetTimestamp();
            var finished = Advance(sequence, logits);
            Statistics.AddSamplingTime(Stopwatch.GetElapsedTime(sampling));
            return finished ? null : new Joiner([sequence], past.Release());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            request.Completion.TrySetException(e);
            return null;
        }
    }

    private KvState Copy(KvState cache) =>
        _model.Merger.Merge(KvMerger.Part.Whole(cache, [0]), new KvMerger.Part(cache, [], 0, 0), _leftAligned);

    /// <summary>Takes the sampled token of a sequence and completes it when a stop condition holds (rows may run in parallel).</summary>
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

    /// <summary>Drops finished rows, compacts columns that are padding for every remaining row and appends the
    /// joiners' rows right-aligned — one pass through the merge graph per joiner group. A cache written in place keeps
    /// finished rows as free rows instead: a joiner group that fits is written into them (<see cref="Place"/>), and
    /// the cache is rebuilt only when a group does not fit or more rows are free than held.</summary>
    private void Rearrange(KvHandle batch, List<Sequence> active, List<Joiner> joiners)
    {
        if (batch.HasValue && joiners.Count == 0 && !active.Exists(s => s.Done))
        {
            return;
        }

        var keep = active.Where(s => !s.Done).ToList();
        var merged = false;
        active.Clear();
        active.AddRange(keep);
        if (keep.Count == 0)
        {
            batch.Reset(null);
        }

        // Each joiner's cache is owned here from the start, so a failed merge releases every one not yet merged.
        var owned = joiners.Select(j => (j.Sequences, Cache: KvHandle.Owning(j.Cache))).ToList();
        try
        {
            foreach (var (sequences, cache) in owned)
            {
                var state = cache.State;
                var whole = sequences.Count == state.Batch && sequences.Select((s, i) => s.Row == i).All(x => x) && Occupied(state, sequences) == (0, state.Length);
                if (!batch.HasValue && whole)
                {
                    batch.Reset(cache.Release());
                }
                else if (!(batch.HasValue && Place(batch, active, state, sequences)))
                {
                    batch.Reset(batch.HasValue ? Merge(batch.State, active, state, sequences) : Merge(state, sequences, state, []));
                    merged = true;
                    cache.Reset(null);
                }

                active.AddRange(sequences);
            }
        }
        finally
        {
            foreach (var (_, cache) in owned)
            {
                cache.Dispose();
            }
        }

        if (!merged && batch.HasValue && !KeepsFreeRows(batch.State, active))
        {
            batch.Reset(Merge(batch.State, active, batch.State, []));
        }
    }

    /// <summary>Whether a batch with rows no sequence holds is left as it is rather than compacted: only a cache written
    /// in place keeps free rows (decoding one costs a row's share of a step, compacting copies the whole cache), and
    /// only while they are at most as many as the held rows.</summary>
    private bool KeepsFreeRows(KvState batch, List<Sequence> active) =>
        batch.Batch == active.Count || (_capacityChunk > 0 && batch.HasRoom && 2 * active.Count >= batch.Batch);

    /// <summary>Writes a prefilled joiner group into rows of the batch cache that no sequence holds, in place, when
    /// there are enough of them and the cache keeps room for the next step; false leaves everything as it was.</summary>
    private bool Place(KvHandle batch, List<Sequence> active, KvState joined, List<Sequence> sequences)
    {
        var state = batch.State;
        var columns = Occupied(joined, sequences).End;
        var length = Math.Max(state.Length, columns);
        var free = state.Batch - active.Count;
        if (_capacityChunk == 0 || !_leftAligned || free < sequences.Count || length >= state.Capacity)
        {
            return false;
        }

        var held = new bool[state.Batch];
        foreach (var sequence in active)
        {
            held[sequence.Row] = true;
        }

        var targets = Enumerable.Range(0, state.Batch).Where(r => !held[r]).Take(sequences.Count).Select(r => (long)r).ToArray();
        var started = Stopwatch.GetTimestamp();
        _model.Merger.Place(state, targets, joined, sequences.Select(s => (long)s.Row).ToArray(), columns);
        Statistics.AddRowsPlaced(sequences.Count, Stopwatch.GetElapsedTime(started));
        if (length > state.Length)
        {
            batch.Reset(state.Extend(length - state.Length, null, null));
        }

        for (var i = 0; i < sequences.Count; i++)
        {
            sequences[i].Row = (int)targets[i];
        }

        return true;
    }

    /// <summary>Stacks <paramref name="firstRows"/>' rows of <paramref name="first"/> over <paramref name="secondRows"/>'
    /// rows of <paramref name="second"/>, each cut to the columns its rows occupy and padded to the longer width;
    /// updates the rows' positions in the new cache and their padding.</summary>
    private KvState Merge(KvState first, List<Sequence> firstRows, KvState second, List<Sequence> secondRows)
    {
        var (firstStart, firstEnd) = Occupied(first, firstRows);
        var (secondStart, secondEnd) = Occupied(second, secondRows);
        var length = Math.Max(firstEnd - firstStart, secondEnd - secondStart);
        var started = Stopwatch.GetTimestamp();
        var merged = _model.Merger.Merge(
            new KvMerger.Part(first, firstRows.Select(s => (long)s.Row).ToArray(), firstStart, firstEnd),
            new KvMerger.Part(second, secondRows.Select(s => (long)s.Row).ToArray(), secondStart, secondEnd),
            _leftAligned,
            Capacity(length, firstRows.Concat(secondRows)));
        Statistics.AddMerge(merged.Bytes, Stopwatch.GetElapsedTime(started));
        var row = 0;
        foreach (var (rows, cache) in new[] { (firstRows, first), (secondRows, second) })
        {
            foreach (var sequence in rows)
            {
                if (!_leftAligned)
                {
                    sequence.PadLeft += length - cache.Length;
                }

                sequence.Row = row++;
            }
        }

        return merged;
    }

    /// <summary>Columns to lay a batch cache of <paramref name="length"/> columns out with: room up to the next
    /// multiple of the chunk, never past the context (which every running row fits in with its next token), so the
    /// cache stays within what memory plans budget (slots × context × KV bytes per token), and never past what
    /// <paramref name="rows"/> can still fill under their token budgets: every merge copies the whole capacity, so
    /// room no row will use is paid for in copies (rounded up to <see cref="RoomQuantum"/>, so a joiner with a
    /// longer budget often still fits; one that does not grows the cache as before). 0: no room.</summary>
    private int Capacity(int length, IEnumerable<Sequence> rows)
    {
        if (_capacityChunk == 0)
        {
            return 0;
        }

        var chunked = (length + _capacityChunk) / _capacityChunk * _capacityChunk;
        var need = rows.Select(s => s.Length + s.Request.MaxNewTokens - s.Generated.Count + 1).DefaultIfEmpty(chunked).Max();
        var needed = (need + RoomQuantum - 1) / RoomQuantum * RoomQuantum;
        return Math.Max(length + 1, Math.Min(Math.Min(chunked, needed), _context));
    }

    /// <summary>Copies the batch cache into a roomier one when the next step would not fit (room is used up, or the
    /// cache came straight from a prefill).</summary>
    private void MakeRoom(KvHandle batch, List<Sequence> active)
    {
        if (_capacityChunk > 0 && !batch.State.HasRoom)
        {
            batch.Reset(Merge(batch.State, active, batch.State, []));
            Statistics.AddCacheGrowth();
        }
    }

    /// <summary>The columns [start, end) of <paramref name="cache"/> that hold any of <paramref name="rows"/>' tokens.</summary>
    private (int Start, int End) Occupied(KvState cache, List<Sequence> rows) =>
        rows.Count == 0 ? (0, 0)
        : _leftAligned ? (0, rows.Max(s => s.Length))
        : (rows.Min(s => s.PadLeft), cache.Length);

    /// <summary>Prefilled rows about to join the batch; owns <see cref="Cache"/> until <see cref="Rearrange"/> takes it.</summary>
    private sealed record Joiner(List<Sequence> Sequences, KvState Cache);

    /// <summary>The decode step's input arrays, kept across steps and grown to the largest step seen (doubling, so a
    /// mask that widens by a column per step is reallocated only now and then); Forward reads only their leading part.</summary>
    private sealed class StepInputs
    {
        private long[] _ids = [];
        private long[] _positions = [];
        private long[] _mask = [];

        public long[] Ids(int count) => Grow(ref _ids, count);

        public long[] Positions(int count) => Grow(ref _positions, count);

        /// <summary>Zeroed over its first <paramref name="count"/> elements (every column padding until filled).</summary>
        public long[] Mask(int count)
        {
            var mask = Grow(ref _mask, count);
            Array.Clear(mask, 0, count);
            return mask;
        }

        private static long[] Grow(ref long[] buffer, int count) =>
            buffer.Length >= count ? buffer : buffer = new long[Math.Max(count, buffer.Length * 2)];
    }

    private sealed class Sequence(GenerationRequest request)
    {
        public GenerationRequest Request { get; } = request;

        public List<int> Generated { get; } = [];

        /// <summary>Tokens whose keys and values are in the cache; the next token's position.</summary>
        public int Length { get; set; }

        public int LastToken { get; set; }

        /// <summary>Leading padding columns of this row in the batch cache (right-aligned caches; 0 when left-aligned).</summary>
        public int PadLeft { get; set; }

        /// <summary>This sequence's row in the batch cache.</summary>
        public int Row { get; set; }

        public bool Done { get; set; }
    }
}

using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// How many requests one served model gets at once. Adaptive (the default), it is found as TCP finds a window: additive increase (about one
/// more slot per window of successful requests) and multiplicative decrease when the server says it is
/// overloaded (429, 503) or when latency grows well past the best seen (requests queueing at a self-hosted
/// vLLM/TGI), bounded by <c>max_concurrency</c>; fixed, it is <c>max_concurrency</c>. The model's capacity is a property of the model, not of the
/// step that calls it, so every step sharing the model shares one limit.
/// </summary>
/// <remarks>
/// Retries belong outside this client: each attempt takes a slot and reports its outcome, and a back-off does
/// not hold a slot while it waits.
/// </remarks>
public sealed class ConcurrencyLimitedChatClient : DelegatingChatClient, IModelActivity
{
    /// <summary>Latency (per output token when the usage is known) this many times the best seen means queueing.</summary>
    public const double LatencyTolerance = 2.0;

    private const double OverloadDecrease = 0.5;
    private const double LatencyDecrease = 0.8;
    private const double LatencySmoothing = 0.2;
    private const double BestLatencyDrift = 1.001;

    private readonly object _gate = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = new();
    private double _limit;
    private int _inFlight;
    private long _epoch;
    private double _bestLatency = double.MaxValue;
    private double _smoothedLatency;
    private long _overloads;
    private long _succeeded;
    private long _failed;
    private long _outputTokens;

    private readonly bool _adaptive;

    /// <param name="initialConcurrency">Where an adaptive limit starts; ignored when fixed.</param>
    public ConcurrencyLimitedChatClient(IChatClient inner, int maxConcurrency, int initialConcurrency, bool adaptive) : base(inner)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrency, 1);
        MaxConcurrency = maxConcurrency;
        _adaptive = adaptive;
        _limit = adaptive ? Math.Clamp(initialConcurrency, 1, maxConcurrency) : maxConcurrency;
    }

    /// <summary>A fixed limit of <paramref name="maxConcurrency"/> requests in flight.</summary>
    public ConcurrencyLimitedChatClient(IChatClient inner, int maxConcurrency) : this(inner, maxConcurrency, maxConcurrency, adaptive: false)
    {
    }

    public int MaxConcurrency { get; }

    /// <summary>Requests allowed in flight now.</summary>
    public int CurrentLimit
    {
        get
        {
            lock (_gate)
            {
                return Slots;
            }
        }
    }

    /// <summary>Responses that said the server was overloaded, over the client's life.</summary>
    public long Overloads => Interlocked.Read(ref _overloads);

    private int Slots => Math.Max(1, (int)_limit);

    /// <summary>Every attempt passes here (retries wrap this client), so its counts are per attempt.</summary>
    public ModelActivity Activity()
    {
        lock (_gate)
        {
            return new ModelActivity(Slots, _inFlight, Interlocked.Read(ref _succeeded), Interlocked.Read(ref _failed), Interlocked.Read(ref _outputTokens));
        }
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var epoch = await AcquireAsync(cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        try
        {
            var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _outputTokens, response.Usage?.OutputTokenCount ?? 0);
            Release(epoch, Outcome.Success, PerTokenLatency(clock.Elapsed, response.Usage?.OutputTokenCount));
            return response;
        }
        catch (Exception e)
        {
            Release(epoch, IsOverload(e) ? Outcome.Overload : Outcome.Other, 0);
            throw;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var epoch = await AcquireAsync(cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var outcome = Outcome.Other;
        var updates = 0L;
        try
        {
            await using var stream = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await stream.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = stream.Current;
                }
                catch (Exception e) when (IsOverload(e))
                {
                    outcome = Outcome.Overload;
                    throw;
                }

                updates++;
                foreach (var usage in update.Contents.OfType<UsageContent>())
                {
                    Interlocked.Add(ref _outputTokens, usage.Details.OutputTokenCount ?? 0);
                }

                yield return update;
            }

            outcome = Outcome.Success;
        }
        finally
        {
            Release(epoch, outcome, outcome == Outcome.Success ? PerTokenLatency(clock.Elapsed, updates) : 0);
        }
    }

    /// <summary>Whether the server said it has no room now (as opposed to a bad request or a dropped line).</summary>
    public static bool IsOverload(Exception e) => e switch
    {
        ClientResultException { Status: 429 or 503 } => true,
        HttpRequestException { StatusCode: HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable } => true,
        _ => false,
    };

    private static double PerTokenLatency(TimeSpan elapsed, long? outputTokens) =>
        elapsed.TotalMilliseconds / Math.Max(1, outputTokens ?? 1);

    private enum Outcome
    {
        Success,
        Overload,
        Other,
    }

    private async ValueTask<long> AcquireAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        LinkedListNode<TaskCompletionSource> node;
        lock (_gate)
        {
            if (_inFlight < Slots && _waiters.Count == 0)
            {
                _inFlight++;
                return _epoch;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            node = _waiters.AddLast(waiter);
        }

        await using (cancellationToken.Register(() => CancelWaiter(node)).ConfigureAwait(false))
        {
            await waiter.Task.ConfigureAwait(false);
        }

        lock (_gate)
        {
            return _epoch; // the slot was counted by whoever woke this waiter
        }
    }

    private void CancelWaiter(LinkedListNode<TaskCompletionSource> node)
    {
        lock (_gate)
        {
            if (node.List is null)
            {
                return; // already woken: it holds a slot and releases it itself
            }

            _waiters.Remove(node);
        }

        node.Value.TrySetCanceled();
    }

    private void Release(long startedIn, Outcome outcome, double latency)
    {
        List<TaskCompletionSource> woken = [];
        lock (_gate)
        {
            _inFlight--;
            if (startedIn >= 0)
            {
                _ = outcome == Outcome.Success ? Interlocked.Increment(ref _succeeded) : Interlocked.Increment(ref _failed);
            }

            // A burst of failures from requests that all started under the old limit is one signal, not many:
            // only a request started since the last decrease may decrease again.
            var current = _adaptive && startedIn == _epoch;
            switch (outcome)
            {
                case Outcome.Overload:
                    Interlocked.Increment(ref _overloads);
                    if (current)
                    {
                        Decrease(OverloadDecrease);
                    }

                    break;
                case Outcome.Success when _adaptive:
                    // The best latency drifts up slowly so that one lucky fast answer does not set the bar forever.
                    _bestLatency = Math.Min(_bestLatency * BestLatencyDrift, latency);
                    _smoothedLatency = _smoothedLatency == 0 ? latency : _smoothedLatency + (LatencySmoothing * (latency - _smoothedLatency));
                    if (current && _smoothedLatency > LatencyTolerance * _bestLatency)
                    {
                        Decrease(LatencyDecrease);
                        _smoothedLatency = _bestLatency * LatencyTolerance; // measure afresh under the new limit
                    }
                    else
                    {
                        _limit = Math.Min(MaxConcurrency, _limit + (1.0 / _limit));
                    }

                    break;
            }

            while (_inFlight < Slots && _waiters.First is { } next)
            {
                _waiters.RemoveFirst();
                _inFlight++;
                woken.Add(next.Value);
            }
        }

        foreach (var waiter in woken)
        {
            if (!waiter.TrySetResult())
            {
                Release(startedIn: -1, Outcome.Other, 0); // cancelled in the meantime: give its slot back
            }
        }
    }

    private void Decrease(double factor)
    {
        _limit = Math.Max(1, _limit * factor);
        _epoch++;
    }
}

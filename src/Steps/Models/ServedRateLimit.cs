namespace Distil.Steps;

/// <summary>
/// When one served model may take the next request. Three things can hold it: a <c>Retry-After</c> the server
/// sent (every new request waits it out, not only the one that was refused); the server's own window as its
/// <c>x-ratelimit-*</c> headers describe it (when the remaining requests or tokens reach zero, new requests wait
/// for the reset); and the definition's optional <c>requests_per_minute</c> / <c>tokens_per_minute</c>, kept as
/// token buckets holding one second's worth, refilled continuously. Tokens are taken at the request's estimate and
/// corrected by the usage the response reports.
/// </summary>
/// <remarks>
/// A response's remaining count is stale by the requests still in flight, which the server may not have counted
/// yet; they are assumed uncounted, so the window is never overrun (at worst a little throughput is left unused).
/// Responses are not read in the order the server wrote their headers: with several in flight, a header written
/// before others' requests were counted can be read after theirs. So while a reported window lasts, a response can
/// only lower what remains of it, never raise it; once the reset has passed the window is unknown again until the
/// next response says otherwise.
/// </remarks>
public sealed class ServedRateLimit
{
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly Bucket? _requests;
    private readonly Bucket? _tokens;
    private DateTimeOffset _holdUntil;
    private Window _requestWindow;
    private Window _tokenWindow;
    private int _inFlight;
    private long _inFlightTokens;
    private long _holds;

    public ServedRateLimit(long? requestsPerMinute, long? tokensPerMinute, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        var now = _time.GetUtcNow();
        _requests = requestsPerMinute is { } rpm ? new Bucket(rpm, now) : null;
        _tokens = tokensPerMinute is { } tpm ? new Bucket(tpm, now) : null;
    }

    /// <summary>Times a request had to wait for a limit, over the model's life.</summary>
    public long Holds => Interlocked.Read(ref _holds);

    /// <summary>Waits until a request estimated at <paramref name="estimatedTokens"/> may go, and counts it as sent.</summary>
    public async ValueTask WaitAsync(long estimatedTokens, CancellationToken cancellationToken)
    {
        var held = false;
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                wait = WaitNeeded(estimatedTokens, now);
                if (wait <= TimeSpan.Zero)
                {
                    _requests?.Take(1, now);
                    _tokens?.Take(estimatedTokens, now);
                    _requestWindow = _requestWindow.Spend(1, now);
                    _tokenWindow = _tokenWindow.Spend(estimatedTokens, now);
                    _inFlight++;
                    _inFlightTokens += estimatedTokens;
                    return;
                }
            }

            if (!held)
            {
                held = true;
                Interlocked.Increment(ref _holds);
            }

            // Never sleep less than a millisecond: a reset reported as "0s" must not spin.
            await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The request is over: its token estimate is replaced by the usage reported (null: keep the estimate).</summary>
    public void Complete(long estimatedTokens, long? usedTokens)
    {
        lock (_gate)
        {
            _inFlight--;
            _inFlightTokens -= estimatedTokens;
            if (usedTokens is { } used && _tokens is not null)
            {
                _tokens.Refund(estimatedTokens - used, _time.GetUtcNow());
            }
        }
    }

    /// <summary>What a response's headers said (each argument null when the header was absent).</summary>
    public void Observe(TimeSpan? retryAfter, long? remainingRequests, TimeSpan? resetRequests, long? remainingTokens, TimeSpan? resetTokens)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (retryAfter is { } pause && now + pause > _holdUntil)
            {
                _holdUntil = now + pause;
            }

            // The answering request is still counted in flight; the others may not be counted by the server yet
            // (for tokens its own estimate is subtracted too: the report may predate its count).
            var others = Math.Max(0, _inFlight - 1);
            if (remainingRequests is { } requests && resetRequests is { } requestReset)
            {
                _requestWindow = _requestWindow.Observed(new Window(requests - others, now + requestReset), now);
            }

            if (remainingTokens is { } tokens && resetTokens is { } tokenReset)
            {
                _tokenWindow = _tokenWindow.Observed(new Window(tokens - _inFlightTokens, now + tokenReset), now);
            }
        }
    }

    private TimeSpan WaitNeeded(long estimatedTokens, DateTimeOffset now)
    {
        var wait = _holdUntil - now;
        wait = Max(wait, _requestWindow.WaitFor(now));
        wait = Max(wait, _tokenWindow.WaitFor(now));
        if (_requests is not null)
        {
            wait = Max(wait, _requests.WaitFor(1, now));
        }

        if (_tokens is not null)
        {
            wait = Max(wait, _tokens.WaitFor(estimatedTokens, now));
        }

        return wait;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>The server's window: what remains of it and when it resets (default: unknown, no limit).</summary>
    private readonly record struct Window(long Remaining, DateTimeOffset ResetAt)
    {
        private bool KnownAt(DateTimeOffset now) => ResetAt > now;

        public TimeSpan WaitFor(DateTimeOffset now) => KnownAt(now) && Remaining <= 0 ? ResetAt - now : TimeSpan.Zero;

        public Window Spend(long amount, DateTimeOffset now) => KnownAt(now) ? this with { Remaining = Remaining - amount } : this;

        /// <summary>The window after a response reported <paramref name="reported"/>: the report, unless this window
        /// still lasts and leaves less (the report may have been written before requests this one counts). A report of
        /// the server's next window is then taken up by the first response after this one resets.</summary>
        public Window Observed(Window reported, DateTimeOffset now) =>
            KnownAt(now) && Remaining < reported.Remaining ? this : reported;
    }

    /// <summary>A per-minute cap as a bucket of one second's worth (at least one unit), refilled continuously.</summary>
    private sealed class Bucket(long perMinute, DateTimeOffset now)
    {
        private readonly double _capacity = Math.Max(1, perMinute / 60.0);
        private readonly double _perSecond = perMinute / 60.0;
        private double _level = Math.Max(1, perMinute / 60.0);
        private DateTimeOffset _at = now;

        public TimeSpan WaitFor(long amount, DateTimeOffset now)
        {
            Refill(now);
            // A request larger than the bucket goes when the bucket is full and leaves it in debt.
            var needed = Math.Min(amount, _capacity);
            return _level >= needed ? TimeSpan.Zero : TimeSpan.FromSeconds((needed - _level) / _perSecond);
        }

        public void Take(long amount, DateTimeOffset now)
        {
            Refill(now);
            _level -= amount;
        }

        public void Refund(long amount, DateTimeOffset now)
        {
            Refill(now);
            _level = Math.Min(_capacity, _level + amount);
        }

        private void Refill(DateTimeOffset now)
        {
            if (now > _at)
            {
                _level = Math.Min(_capacity, _level + ((now - _at).TotalSeconds * _perSecond));
                _at = now;
            }
        }
    }
}

namespace Distil.Hub;

/// <summary>
/// Retries for 429, 5xx and broken connections: exponential backoff with jitter, or the server's
/// Retry-After when it gives one (capped by <see cref="MaxDelay"/>).
/// </summary>
public sealed record HubRetryPolicy(int MaxAttempts, TimeSpan BaseDelay, TimeSpan MaxDelay)
{
    public static readonly HubRetryPolicy Default = new(6, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));

    public TimeSpan DelayBefore(int retry, TimeSpan? retryAfter)
    {
        if (retryAfter is { } asked)
        {
            return asked < TimeSpan.Zero ? TimeSpan.Zero : asked > MaxDelay ? MaxDelay : asked;
        }

        var exponential = BaseDelay.TotalMilliseconds * Math.Pow(2, retry - 1);
        var jittered = exponential * (0.5 + (Random.Shared.NextDouble() / 2));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, MaxDelay.TotalMilliseconds));
    }
}

using Distil.Steps;
using Microsoft.Extensions.Time.Testing;

namespace Distil.Judge.Tests;

/// <summary>
/// <see cref="ServedRateLimit"/> on a clock the test moves: responses read out of the order the server wrote their
/// headers. (RateLimitTests drives the same class through a loopback server, on real time.)
/// </summary>
public class ServedRateLimitTests
{
    private static readonly TimeSpan Reset = TimeSpan.FromMilliseconds(200);

    /// <summary>Sends one request if the limit lets it go now; false when it is held.</summary>
    private static bool SendsNow(ServedRateLimit limit)
    {
        using var cts = new CancellationTokenSource();
        var wait = limit.WaitAsync(1, cts.Token);
        if (wait.IsCompletedSuccessfully)
        {
            return true;
        }

        cts.Cancel();
        return false;
    }

    [Fact]
    public void A_header_written_before_others_were_counted_cannot_reopen_the_window_they_closed()
    {
        var time = new FakeTimeProvider();
        var limit = new ServedRateLimit(null, null, time);
        // Three requests of a window of three, sent before any header was seen.
        Assert.True(SendsNow(limit) && SendsNow(limit) && SendsNow(limit));

        // The second request's answer, written after all three were counted, is read first: nothing remains.
        limit.Observe(null, remainingRequests: 0, Reset, null, null);
        limit.Complete(1, null);
        Assert.False(SendsNow(limit));

        // The first request's answer, written when only it had arrived, is read late: "2 remain" is stale.
        limit.Observe(null, remainingRequests: 2, Reset, null, null);
        limit.Complete(1, null);
        Assert.False(SendsNow(limit));

        // After the reset (the third answer came without headers) the window is unknown until an answer says
        // otherwise, and requests go; a fresh window's report counts from then on.
        limit.Complete(1, null);
        time.Advance(Reset + TimeSpan.FromMilliseconds(1));
        Assert.True(SendsNow(limit));
        limit.Observe(null, remainingRequests: 2, Reset, null, null);
        limit.Complete(1, null);
        Assert.True(SendsNow(limit));
        Assert.True(SendsNow(limit));
        Assert.False(SendsNow(limit));
    }

    [Fact]
    public void Token_windows_keep_the_stricter_report_the_same_way()
    {
        var time = new FakeTimeProvider();
        var limit = new ServedRateLimit(null, null, time);
        Assert.True(SendsNow(limit));
        Assert.True(SendsNow(limit));

        limit.Observe(null, null, null, remainingTokens: 0, Reset);
        limit.Complete(1, 1);
        limit.Observe(null, null, null, remainingTokens: 100, Reset);
        limit.Complete(1, 1);
        Assert.False(SendsNow(limit));

        time.Advance(Reset + TimeSpan.FromMilliseconds(1));
        Assert.True(SendsNow(limit));
    }
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace Distil.Steps;

/// <summary>
/// Reads what a served API says about its limits: <c>Retry-After</c> (seconds or an HTTP date) and OpenAI's
/// <c>x-ratelimit-remaining-requests/-tokens</c> with <c>x-ratelimit-reset-requests/-tokens</c>, whose resets are
/// Go-style durations (<c>1s</c>, <c>6m0s</c>, <c>20ms</c>, <c>1h2m3.5s</c>).
/// </summary>
public static partial class RateLimitHeaders
{
    public const string RetryAfterName = "Retry-After";
    public const string RemainingRequests = "x-ratelimit-remaining-requests";
    public const string RemainingTokens = "x-ratelimit-remaining-tokens";
    public const string ResetRequests = "x-ratelimit-reset-requests";
    public const string ResetTokens = "x-ratelimit-reset-tokens";

    /// <summary>How long <c>Retry-After</c> asks to wait from <paramref name="now"/>; null when absent or unreadable.</summary>
    public static TimeSpan? RetryAfter(string? value, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            return seconds >= 0 && double.IsFinite(seconds) ? TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2)) : null;
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)
            ? (date > now ? date - now : TimeSpan.Zero)
            : null;
    }

    /// <summary>A reset duration (<c>6m0s</c>, <c>20ms</c>, or bare seconds); null when unreadable.</summary>
    public static TimeSpan? Duration(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare))
        {
            return bare >= 0 && double.IsFinite(bare) ? TimeSpan.FromSeconds(bare) : null;
        }

        var total = 0.0;
        var consumed = 0;
        foreach (Match part in DurationPart().Matches(value))
        {
            if (part.Index != consumed)
            {
                return null;
            }

            consumed += part.Length;
            var amount = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch
            {
                "h" => amount * 3_600_000,
                "m" => amount * 60_000,
                "s" => amount * 1_000,
                "ms" => amount,
                "us" or "µs" => amount / 1_000,
                _ => amount / 1_000_000, // ns
            };
        }

        return consumed == value.Length && consumed > 0 ? TimeSpan.FromMilliseconds(total) : null;
    }

    /// <summary>A remaining count; null when absent or not a whole non-negative number.</summary>
    public static long? Count(string? value) =>
        long.TryParse(value?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? count : null;

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPart();
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Distil.Pipeline;

namespace Distil.Cli.Commands;

/// <summary>
/// A served model's live figures as progress text: concurrency (in flight of the current limit), output tokens per
/// second since the previous report of the same model, and the share of failed attempts.
/// </summary>
internal sealed class ModelActivityText
{
    private readonly ConcurrentDictionary<string, (TimeSpan At, long Tokens, double Rate)> _last = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>The text for a step's report, or empty when its model keeps no figures (local models, steps without one).</summary>
    public string For(StepProgress progress)
    {
        if (progress is not { Model: { } model, ModelActivity: { } activity })
        {
            return string.Empty;
        }

        var now = _clock.Elapsed;
        var rate = _last.AddOrUpdate(
            model,
            _ => (now, activity.OutputTokens, activity.OutputTokens / Math.Max(now.TotalSeconds, 0.001)),
            (_, last) => now - last.At < TimeSpan.FromMilliseconds(500)
                ? last // too soon for a fair rate: keep the previous one
                : (now, activity.OutputTokens, (activity.OutputTokens - last.Tokens) / (now - last.At).TotalSeconds)).Rate;
        return string.Create(CultureInfo.InvariantCulture, $"{model}: {activity.InFlight} in flight of {activity.ConcurrencyLimit}, {rate:F0} tok/s, {activity.ErrorRate:0.0%} errors");
    }
}

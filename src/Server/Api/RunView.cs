using Distil.Pipeline;
using System.Text.Json;
using Distil.Server.Storage;

namespace Distil.Server.Api;

/// <summary>A run as the API and the dashboard present it, with its rates worked out.</summary>
public sealed record RunView(
    Guid Id,
    string Pipeline,
    string State,
    string Trigger,
    long? RowsTotal,
    long RowsDone,
    int Shards,
    int ShardsDone,
    double Progress,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    double? ElapsedSeconds,
    string? Output,
    string? Error)
{
    internal static RunView From(RunRecord run, DateTimeOffset? now = null)
    {
        var total = run.RowsTotal ?? 0;
        var done = Math.Min(total, run.RowsDone);
        double? elapsed = run.StartedAt is { } started ? ((run.FinishedAt ?? now ?? DateTimeOffset.UtcNow) - started).TotalSeconds : null;
        var progress = run.State == RunState.Succeeded ? 1.0 : total > 0 ? (double)done / total : 0.0;
        return new RunView(run.Id, run.Pipeline, run.State.ToString(), run.Trigger, run.RowsTotal, done, run.ShardCount, run.ShardsDone,
            progress, run.CreatedAt, run.StartedAt, run.FinishedAt, elapsed, run.Output, run.Error);
    }
}

/// <summary>One step's counters over the whole run.</summary>
internal sealed record StepView(string Name, long RowsIn, long RowsOut, long Errors, long Dropped, long InputTokens, long OutputTokens, double Progress);

/// <summary>
/// A served model over the whole run: requests in flight and the concurrency limits of the shards running now, output
/// tokens per second (while the run goes on: each running shard's tokens over its time so far, summed over shards; once
/// it is over: all tokens over the run's elapsed time), and the share of failed attempts.
/// </summary>
internal sealed record ModelView(string Model, int InFlight, int ConcurrencyLimit, double TokensPerSecond, double ErrorRate, long Requests, long Failed, long OutputTokens)
{
    public static IReadOnlyList<ModelView> From(RunDetails details, double? elapsedSeconds)
    {
        var running = details.Shards.Where(s => s.State == ShardState.Running).Select(s => s.Index).ToHashSet();
        return (details.Models ?? []).GroupBy(m => m.Model).Select(g =>
        {
            var live = g.Where(m => running.Contains(m.Shard)).ToList();
            var total = new ModelActivity(
                live.Sum(m => m.Activity.ConcurrencyLimit), live.Sum(m => m.Activity.InFlight),
                g.Sum(m => m.Activity.Succeeded), g.Sum(m => m.Activity.Failed), g.Sum(m => m.Activity.OutputTokens));
            var rate = details.Run.State is RunState.Running
                ? live.Sum(m => m.Seconds > 0 ? m.Activity.OutputTokens / m.Seconds : 0)
                : elapsedSeconds is > 0 ? total.OutputTokens / elapsedSeconds.Value : 0;
            return new ModelView(g.Key, total.InFlight, total.ConcurrencyLimit, rate, total.ErrorRate, total.Succeeded + total.Failed, total.Failed, total.OutputTokens);
        }).ToList();
    }
}

/// <summary>The detail page of a run: figures, steps, shards and what the merged dataset holds.</summary>
internal sealed record RunDetailView(
    RunView Run,
    double RowsPerSecond,
    double TokensPerSecond,
    double OutputTokensPerSecond,
    double? EtaSeconds,
    long InputTokens,
    long OutputTokens,
    IReadOnlyList<StepView> Steps,
    IReadOnlyList<ShardRecord> Shards,
    JsonElement? Summary,
    IReadOnlyList<Publication> Publications,
    IReadOnlyList<ModelView> Models)
{
    public static RunDetailView From(RunDetails details, DateTimeOffset? now = null)
    {
        var run = RunView.From(details.Run, now);
        var total = details.Run.RowsTotal ?? 0;
        var seconds = run.ElapsedSeconds is > 0 ? run.ElapsedSeconds.Value : 0;
        var inputTokens = details.Steps.Sum(s => s.InputTokens);
        var outputTokens = details.Steps.Sum(s => s.OutputTokens);
        double? eta = null;
        if (details.Run.State is RunState.Running && run.RowsDone > 0 && seconds > 0)
        {
            eta = (total - run.RowsDone) / (run.RowsDone / seconds);
        }

        var steps = details.Steps.Select(s => new StepView(
            s.Step, s.RowsIn, s.RowsOut, s.Errors, s.Dropped, s.InputTokens, s.OutputTokens, StepProgress(s, total))).ToList();
        JsonElement? summary = details.SummaryJson is null ? null : JsonDocument.Parse(details.SummaryJson).RootElement.Clone();
        // Rows per second are rows the work steps have finished (RowsDone), not rows the source has read ahead:
        // the source runs ahead of the models by whole batches, so its rate says nothing of the run's pace.
        return new RunDetailView(run, seconds > 0 ? run.RowsDone / seconds : 0, seconds > 0 ? (inputTokens + outputTokens) / seconds : 0,
            seconds > 0 ? outputTokens / seconds : 0, eta, inputTokens, outputTokens, steps, details.Shards, summary, details.Publications ?? [],
            ModelView.From(details, run.ElapsedSeconds));
    }

    /// <summary>
    /// The share of the run's rows a step is done with: rows it passed on, failed or dropped. Rows coming in are not
    /// used, because a step fed by two branches (combine) receives each row twice and would read 100 % half way.
    /// </summary>
    internal static double StepProgress(StepCounts step, long totalRows) =>
        totalRows > 0 ? Math.Min(1.0, (step.RowsOut + step.Errors + step.Dropped) / (double)totalRows) : 0;
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Distil.Pipeline;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Distil.Cli.Commands;

/// <summary>Live progress of a run in a terminal: one bar per step with rows, rows/s and time left, and for steps
/// calling a served model, that model's concurrency, tokens/s and error rate.</summary>
internal static class PipelineProgress
{
    public static async Task<RunManifest> ShowAsync(PipelineDefinition definition, Func<IProgress<StepProgress>, Task<RunManifest>> run)
    {
        RunManifest? manifest = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new RowsColumn(), new RowsPerSecondColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var tasks = definition.Steps.ToDictionary(s => s.Name, s => context.AddTask(Markup.Escape(s.Name), autoStart: true, maxValue: 1));
                var models = new ModelActivityText();
                foreach (var task in tasks.Values)
                {
                    task.IsIndeterminate = true;
                }

                var progress = new SynchronousProgress(update =>
                {
                    var task = tasks[update.Step];
                    if (models.For(update) is { Length: > 0 } model)
                    {
                        task.Description = $"{Markup.Escape(update.Step)} [grey]{Markup.Escape(model)}[/]";
                    }

                    if (update.RowsTotal is { } total && total > 0)
                    {
                        task.IsIndeterminate = false;
                        task.MaxValue = Math.Max(total, update.RowsDone);
                    }

                    task.Value = update.RowsDone;
                    if (update.Completed)
                    {
                        task.MaxValue = Math.Max(1, update.RowsDone);
                        task.Value = task.MaxValue;
                        task.IsIndeterminate = false;
                        task.StopTask();
                    }
                });
                manifest = await run(progress);
            });
        return manifest!;
    }

    private sealed class RowsColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.IsIndeterminate ? $"{task.Value:N0} rows" : $"{task.Value:N0}/{task.MaxValue:N0} rows");
    }

    private sealed class RowsPerSecondColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is { } speed ? $"{speed:N0} rows/s" : string.Empty);
    }
}

/// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool out of order).</summary>
internal sealed class SynchronousProgress(Action<StepProgress> handler) : IProgress<StepProgress>
{
    private readonly Lock _lock = new();

    public void Report(StepProgress value)
    {
        lock (_lock)
        {
            handler(value);
        }
    }
}

/// <summary>Progress as plain lines, for logs and pipes: each step at most every two seconds, and when it finishes.</summary>
internal sealed class PlainProgress(TextWriter output) : IProgress<StepProgress>
{
    private readonly ConcurrentDictionary<string, (long Ticks, long Rows)> _last = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ModelActivityText _models = new();

    public void Report(StepProgress value)
    {
        var now = _clock.ElapsedTicks;
        var last = _last.GetOrAdd(value.Step, (0, 0));
        if (!value.Completed && TimeSpan.FromTicks((now - last.Ticks) * TimeSpan.TicksPerSecond / Stopwatch.Frequency) < TimeSpan.FromSeconds(2))
        {
            return;
        }

        _last[value.Step] = (now, value.RowsDone);
        var seconds = _clock.Elapsed.TotalSeconds;
        var rate = seconds > 0 ? value.RowsDone / seconds : 0;
        var total = value.RowsTotal is { } t ? $"/{t}" : string.Empty;
        var eta = value.RowsTotal is { } all && rate > 0 && !value.Completed ? $", ~{TimeSpan.FromSeconds((all - value.RowsDone) / rate):hh\\:mm\\:ss} left" : string.Empty;
        var errors = value.Errors > 0 ? $", {value.Errors} errors" : string.Empty;
        var model = _models.For(value) is { Length: > 0 } text ? $"; {text}" : string.Empty;
        lock (output)
        {
            output.WriteLine($"[{value.Step}] {(value.Completed ? "done " : string.Empty)}{value.RowsDone}{total} rows, {rate:F0} rows/s{errors}{eta}{model}");
        }
    }
}

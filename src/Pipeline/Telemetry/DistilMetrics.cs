using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Distil.Pipeline.Telemetry;

/// <summary>
/// The "Distil" meter: what a run does, measured where it happens (the pipeline runtime for rows, errors, queues and
/// batches in flight; the model clients for requests, tokens and concurrency). Any listener can read it: the
/// service exports it to Prometheus and OTLP; with nobody listening an instrument costs a flag check.
/// Tags: <c>pipeline</c> and <c>step</c> on step instruments, <c>model</c> and <c>step</c> on model instruments.
/// </summary>
public static class DistilMetrics
{
    public const string MeterName = "Distil";

    private static readonly Meter Meter = new(MeterName, typeof(DistilMetrics).Assembly.GetName().Version?.ToString());

    private static readonly ConcurrentDictionary<IStepGauges, byte> LiveSteps = new(ReferenceEqualityComparer.Instance);

    private static readonly ConcurrentDictionary<string, TokenRate> Rates = new(StringComparer.Ordinal);

    // The step a model call is made for: the runtime sets it around a batch, the model client tags its measurements with it.
    private static readonly AsyncLocal<string?> CurrentStep = new();

    public static readonly Counter<long> Rows = Meter.CreateCounter<long>("distil.rows", "{row}", "Rows a step has finished (read, transformed, generated, judged or written)");

    public static readonly Counter<long> RowErrors = Meter.CreateCounter<long>("distil.row.errors", "{row}", "Rows a step marked failed");

    public static readonly Counter<long> ModelRequests = Meter.CreateCounter<long>("distil.model.requests", "{request}", "Chat requests answered by a model");

    public static readonly Counter<long> ModelErrors = Meter.CreateCounter<long>("distil.model.errors", "{request}", "Chat requests that failed");

    public static readonly Counter<long> Tokens = Meter.CreateCounter<long>("distil.model.tokens", "{token}", "Tokens read (direction=input) and generated (direction=output) by a model");

    public static readonly UpDownCounter<long> ActiveRequests = Meter.CreateUpDownCounter<long>("distil.model.active_requests", "{request}", "Chat requests a model is serving now (its concurrency)");

    static DistilMetrics()
    {
        Meter.CreateObservableGauge("distil.model.tokens_per_second", ObserveTokenRates, "{token}/s", "Output tokens per second of each model over the last 10 seconds");
        Meter.CreateObservableGauge("distil.step.queue_depth", () => ObserveSteps(s => s.QueuedBatches), "{batch}", "Batches waiting in a step's input buffer");
        Meter.CreateObservableGauge("distil.step.active_batches", () => ObserveSteps(s => s.ActiveBatches), "{batch}", "Batches a step is processing now (its concurrency)");
    }

    /// <summary>The step a model call is made for, or null outside a step.</summary>
    public static string? Step => CurrentStep.Value;

    /// <summary>Names the step for model calls made from here on in this async flow (the flow's copy is dropped when the calling async method returns).</summary>
    public static void EnterStep(string step) => CurrentStep.Value = step;

    /// <summary>Makes a running step's gauges observable until the returned handle is disposed.</summary>
    public static IDisposable Observe(IStepGauges step)
    {
        LiveSteps[step] = 0;
        return new Registration(() => LiveSteps.TryRemove(step, out _));
    }

    /// <summary>Records output tokens towards a model's tokens/s gauge.</summary>
    public static void AddGeneratedTokens(string model, long tokens) =>
        Rates.GetOrAdd(model, _ => new TokenRate()).Add(tokens);

    public static TagList StepTags(string pipeline, string step) => new() { { "pipeline", pipeline }, { "step", step } };

    public static TagList ModelTags(string model) => new() { { "model", model }, { "step", Step ?? "" } };

    private static IEnumerable<Measurement<long>> ObserveSteps(Func<IStepGauges, long> value) =>
        LiveSteps.Keys.Select(s => new Measurement<long>(value(s), StepTags(s.Pipeline, s.StepName)));

    private static IEnumerable<Measurement<double>> ObserveTokenRates() =>
        Rates.Select(r => new Measurement<double>(r.Value.PerSecond(), new KeyValuePair<string, object?>("model", r.Key)));

    private sealed class Registration(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }

    /// <summary>Tokens per second over a sliding window of one-second buckets.</summary>
    private sealed class TokenRate
    {
        private const int Seconds = 10;
        private readonly long[] _buckets = new long[Seconds];
        private readonly long[] _bucketSecond = new long[Seconds];
        private readonly object _gate = new();

        public void Add(long tokens)
        {
            var second = Environment.TickCount64 / 1000;
            lock (_gate)
            {
                var slot = (int)(second % Seconds);
                if (_bucketSecond[slot] != second)
                {
                    _bucketSecond[slot] = second;
                    _buckets[slot] = 0;
                }

                _buckets[slot] += tokens;
            }
        }

        public double PerSecond()
        {
            var now = Environment.TickCount64 / 1000;
            lock (_gate)
            {
                long sum = 0;
                for (var i = 0; i < Seconds; i++)
                {
                    if (now - _bucketSecond[i] < Seconds)
                    {
                        sum += _buckets[i];
                    }
                }

                return sum / (double)Seconds;
            }
        }
    }
}

/// <summary>What a running step shows on the step gauges.</summary>
public interface IStepGauges
{
    string Pipeline { get; }

    string StepName { get; }

    long QueuedBatches { get; }

    long ActiveBatches { get; }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Bench;

/// <summary>
/// Throughput of the pipeline engine: rows/s through a chain of 5 pass-through steps and through a fan-out/fan-in
/// of 2 branches, each next to a plain loop doing the same work in the same process, plus the managed heap
/// high-water mark at 250k and 1M rows (flat = streaming). Usage: distil-bench pipeline [--rows N].
/// </summary>
internal static class PipelineBench
{
    public static async Task RunAsync(string[] args)
    {
        var rows = args.SkipWhile(a => a != "--rows").Skip(1).Select(long.Parse).FirstOrDefault(1_000_000);
        buffered = args.SkipWhile(a => a != "--buffer").Skip(1).Select(int.Parse).FirstOrDefault(new RunOptions().BufferedRows);
        var registry = BuiltInSteps.CreateRegistry();
        registry.Register(new StepType("generate", ["rows"], p => new GeneratedSource(p.Name, p.GetInt64("rows", 0)), "bench: small synthetic rows"));
        registry.Register(new StepType("count", [], p => new CountingSink(p.Name), "bench: counts rows"));
        var scratch = Path.Combine(Path.GetTempPath(), "distil-bench-" + Environment.ProcessId);
        Console.WriteLine($"pipeline benchmark: {rows:N0} rows of {{n, text}}, batches of 50, {buffered} rows buffered per step, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
        try
        {
            // Warm up JIT and thread pool so that neither side pays for it in the figures.
            await EngineAsync(registry, Chain(20_000), scratch, cache: false);
            Baseline.Chain(20_000);
            Baseline.FanOut(20_000);

            var chain = await EngineAsync(registry, Chain(rows), scratch, cache: false);
            var chainLoop = Measure(() => Baseline.Chain(rows));
            Print("chain of 5 pass-through steps (task-like: each on its own loop)", rows, chain, chainLoop);

            var fused = await EngineAsync(registry, Chain(rows, taskLike: false), scratch, cache: false);
            var fusedLoop = Measure(() => Baseline.Chain(rows));
            Print("chain of 5 pass-through steps (transforms: run on the source's loop)", rows, fused, fusedLoop);

            var fan = await EngineAsync(registry, FanOut(rows), scratch, cache: false);
            var fanLoop = Measure(() => Baseline.FanOut(rows));
            Print("fan-out to 2 branches + combine_columns", rows, fan, fanLoop);

            var cachedRows = Math.Min(rows, 100_000);
            var cached = await EngineAsync(registry, Chain(cachedRows), scratch, cache: true);
            Console.WriteLine($"  chain with every batch cached to disk ({cachedRows:N0} rows): {cachedRows / cached.Elapsed.TotalSeconds,12:N0} rows/s");

            var quarter = await EngineAsync(registry, Chain(rows / 4), scratch, cache: false);
            var full = await EngineAsync(registry, Chain(rows), scratch, cache: false);
            Console.WriteLine($"  managed heap high-water, chain: {rows / 4:N0} rows {quarter.PeakHeap / 1048576.0:F1} MiB, {rows:N0} rows {full.PeakHeap / 1048576.0:F1} MiB (ratio {full.PeakHeap / (double)quarter.PeakHeap:F2})");
            Console.WriteLine($"  process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB");
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    private static int buffered;

    /// <summary>
    /// Five pass_through steps. Task-like ones ("cache": true, as model steps are) each get their own loop and
    /// thread hand-off; transforms ("cache": false) run on their predecessor's loop. The run itself never caches
    /// (<see cref="RunOptions.CacheBatches"/> off), so both do the same work per row.
    /// </summary>
    private static string Chain(long rows, bool taskLike = true) => $$"""
        { "name": "bench-chain", "steps": [
            { "name": "src", "type": "generate", "rows": {{rows}} },
            { "name": "p1", "type": "pass_through", "cache": {{(taskLike ? "true" : "false")}} },
            { "name": "p2", "type": "pass_through", "cache": {{(taskLike ? "true" : "false")}} },
            { "name": "p3", "type": "pass_through", "cache": {{(taskLike ? "true" : "false")}} },
            { "name": "p4", "type": "pass_through", "cache": {{(taskLike ? "true" : "false")}} },
            { "name": "p5", "type": "pass_through", "cache": {{(taskLike ? "true" : "false")}} },
            { "name": "sink", "type": "count" } ] }
        """;

    private static string FanOut(long rows) => $$"""
        { "name": "bench-fan", "steps": [
            { "name": "src", "type": "generate", "rows": {{rows}} },
            { "name": "a", "type": "pass_through", "after": ["src"] },
            { "name": "b", "type": "pass_through", "after": ["src"] },
            { "name": "join", "type": "combine_columns", "after": ["a", "b"], "columns": ["text"], "output_columns": ["texts"] },
            { "name": "sink", "type": "count" } ] }
        """;

    private static async Task<Result> EngineAsync(StepRegistry registry, string json, string scratch, bool cache)
    {
        var definition = PipelineDefinition.Parse(json, null, registry);
        var options = new RunOptions { RunsRoot = Path.Combine(scratch, "runs"), OutputDirectory = Path.Combine(scratch, "out"), CacheBatches = cache, Fresh = true, BufferedRows = buffered };
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var sampler = new HeapSampler();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var manifest = await new PipelineRunner().RunAsync(definition, options, CancellationToken.None);
        clock.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var written = manifest.Steps.Single(s => s.Name == "sink").RowsOut;
        var expected = manifest.Steps.Single(s => s.Name == "src").RowsOut;
        if (written != expected)
        {
            throw new InvalidOperationException($"the sink saw {written} rows of {expected}");
        }

        return new Result(clock.Elapsed, cpu, sampler.Peak);
    }

    private static Result Measure(Func<long> loop)
    {
        GC.Collect();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var count = loop();
        clock.Stop();
        GC.KeepAlive(count);
        return new Result(clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, 0);
    }

    /// <remarks>
    /// Wall-clock rows/s depends on how busy the machine is (the engine runs a thread per busy step, the loop one
    /// thread), so CPU time per row is printed too: it is the engine's overhead whatever the load.
    /// </remarks>
    private static void Print(string label, long rows, Result engine, Result loop)
    {
        var engineRate = rows / engine.Elapsed.TotalSeconds;
        var loopRate = rows / loop.Elapsed.TotalSeconds;
        var engineCpu = engine.Cpu.TotalMicroseconds / rows;
        var loopCpu = loop.Cpu.TotalMicroseconds / rows;
        Console.WriteLine($"  {label}:");
        Console.WriteLine($"    wall: engine {engineRate,12:N0} rows/s | plain loop {loopRate,12:N0} rows/s | loop/engine {loopRate / engineRate:F2}x");
        Console.WriteLine($"    cpu:  engine {engineCpu,8:F2} µs/row  | plain loop {loopCpu,8:F2} µs/row  | engine/loop {engineCpu / loopCpu:F2}x | heap high-water {engine.PeakHeap / 1048576.0:F1} MiB");
    }

    private sealed record Result(TimeSpan Elapsed, TimeSpan Cpu, long PeakHeap);

    /// <summary>Samples the GC heap size while a run is in flight.</summary>
    internal sealed class HeapSampler : IDisposable
    {
        private readonly Timer _timer;
        private long _peak;

        public HeapSampler() => _timer = new Timer(_ => Sample(), null, 0, 20);

        public long Peak
        {
            get
            {
                Sample();
                return Interlocked.Read(ref _peak);
            }
        }

        private void Sample()
        {
            var size = GC.GetGCMemoryInfo().HeapSizeBytes;
            var now = GC.GetTotalMemory(false);
            var value = Math.Max(size, now);
            long seen;
            while ((seen = Interlocked.Read(ref _peak)) < value && Interlocked.CompareExchange(ref _peak, value, seen) != seen)
            {
            }
        }

        public void Dispose() => _timer.Dispose();
    }

    /// <summary>The same work without the engine: make the rows, hand each batch of 50 through 5 steps (or 2 branches and a join), count.</summary>
    private static class Baseline
    {
        public static long Chain(long rows)
        {
            long count = 0;
            var batch = new List<Row>(50);
            for (long i = 0; i < rows; i++)
            {
                batch.Add(GeneratedSource.Make(i));
                if (batch.Count == 50 || i == rows - 1)
                {
                    IReadOnlyList<Row> current = batch;
                    for (var step = 0; step < 5; step++)
                    {
                        current = PassThroughOnce(current);
                    }

                    count += current.Count;
                    batch = new List<Row>(50);
                }
            }

            return count;
        }

        public static long FanOut(long rows)
        {
            long count = 0;
            for (long i = 0; i < rows; i++)
            {
                var a = GeneratedSource.Make(i);
                var b = a.Clone();
                var combined = a.Clone();
                combined.Remove("text");
                combined["texts"] = new List<object?> { a["text"], b["text"] };
                count += combined.Id >= 0 ? 1 : 0;
            }

            return count;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static IReadOnlyList<Row> PassThroughOnce(IReadOnlyList<Row> rows) => rows.ToArray();
    }

    private sealed class GeneratedSource(string name, long rows) : ISourceStep, ICountableSource
    {
        public string Name => name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => ["n", "text"];

        public static Row Make(long i) => new(i) { ["n"] = i, ["text"] = "prompt" };

        public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => ValueTask.FromResult($"generated:{rows}");

        public ValueTask<long?> CountAsync(CancellationToken cancellationToken) => ValueTask.FromResult<long?>(rows);

        public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.CompletedTask;
            var end = range.Limit is { } limit ? Math.Min(rows, range.Offset + limit) : rows;
            for (var i = range.Offset; i < end; i++)
            {
                yield return Make(i);
            }
        }
    }

    private sealed class CountingSink(string name) : ISinkStep
    {
        public string Name => name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => [];

        public ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyList<string>>([]);
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Bench;

/// <summary>
/// Near-duplicate removal at scale: <c>minhash_dedup</c> over N synthetic prompts (about 20 words each; one in ten a
/// one-word edit of the row before, one in twenty an exact copy) next to exact <c>dedup</c> on the same rows in the
/// same run, each through the real engine, with the live heap when the last row has passed (what the step holds) and the heap high-water mark, at N/4 and N rows; then a naive
/// all-pairs Jaccard on a small subset, the cost minhash avoids. Usage: distil-bench dedup [--rows N].
/// </summary>
internal static class DedupBench
{
    private const int Vocabulary = 5000;
    private const int Words = 20;

    public static async Task RunAsync(string[] args)
    {
        var rows = args.SkipWhile(a => a != "--rows").Skip(1).Select(long.Parse).FirstOrDefault(1_000_000);
        var registry = BuiltInSteps.CreateRegistry();
        registry.Register(new StepType("generate_prompts", ["rows"], p => new PromptSource(p.Name, p.GetInt64("rows", 0)), "bench: synthetic prompts with near-duplicates"));
        registry.Register(new StepType("discard", [], p => new DiscardingSink(p.Name), "bench: drops rows"));
        var scratch = Path.Combine(Path.GetTempPath(), "distil-bench-dedup-" + Environment.ProcessId);
        Console.WriteLine($"dedup benchmark: {rows:N0} synthetic prompts of {Words} words, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
        try
        {
            await RunStepAsync(registry, scratch, 20_000, Exact);
            await RunStepAsync(registry, scratch, 20_000, MinHash);

            var exact = await RunStepAsync(registry, scratch, rows, Exact);
            var exactQuarter = await RunStepAsync(registry, scratch, rows / 4, Exact);
            var minhash = await RunStepAsync(registry, scratch, rows, MinHash);
            var minhashQuarter = await RunStepAsync(registry, scratch, rows / 4, MinHash);
            Print("exact dedup (baseline: keeps every distinct text)", rows, exact, exactQuarter);
            Print("minhash_dedup (word 3-grams, 128 perm, threshold 0.8: keeps band hashes)", rows, minhash, minhashQuarter);
            Console.WriteLine($"  minhash/exact: time {minhash.Elapsed / exact.Elapsed:F2}x, live heap at the end {minhash.LiveAtEnd / (double)exact.LiveAtEnd:F2}x, heap high-water {minhash.PeakHeap / (double)exact.PeakHeap:F2}x");

            const int Subset = 2000;
            var pairs = AllPairs(Subset);
            var perPair = pairs.Elapsed.TotalSeconds / ((double)Subset * (Subset - 1) / 2);
            var allPairsSeconds = perPair * rows * (rows - 1) / 2;
            Console.WriteLine($"  naive all-pairs Jaccard on {Subset:N0} rows: {pairs.Elapsed.TotalSeconds:F2} s, {pairs.Merged:N0} pairs ≥ 0.8; extrapolated to {rows:N0} rows: {allPairsSeconds / 3600:N0} h ({allPairsSeconds / minhash.Elapsed.TotalSeconds:N0}x minhash_dedup)");
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

    private const string Exact = """{ "name": "dedup", "type": "dedup", "column": "text" }""";

    private const string MinHash = """{ "name": "dedup", "type": "minhash_dedup", "column": "text", "threshold": 0.8 }""";

    private static async Task<Result> RunStepAsync(StepRegistry registry, string scratch, long rows, string step)
    {
        var json = $$"""
            { "name": "bench-dedup", "steps": [
                { "name": "src", "type": "generate_prompts", "rows": {{rows}} },
                {{step}},
                { "name": "sink", "type": "discard" } ] }
            """;
        var definition = PipelineDefinition.Parse(json, null, registry);
        var options = new RunOptions { RunsRoot = Path.Combine(scratch, "runs"), OutputDirectory = Path.Combine(scratch, "out"), CacheBatches = false, Fresh = true };
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var sampler = new PipelineBench.HeapSampler();
        var clock = Stopwatch.StartNew();
        var manifest = await new PipelineRunner().RunAsync(definition, options, CancellationToken.None);
        clock.Stop();
        var dedup = manifest.Steps.Single(s => s.Name == "dedup");
        return new Result(clock.Elapsed, sampler.Peak, DiscardingSink.LiveAtEnd, dedup.RowsIn - dedup.RowsOut);
    }

    private static void Print(string label, long rows, Result full, Result quarter)
    {
        Console.WriteLine($"  {label}:");
        Console.WriteLine($"    {rows / full.Elapsed.TotalSeconds,10:N0} rows/s, dropped {full.Dropped:N0} of {rows:N0}; live heap at the end {rows / 4:N0} rows {quarter.LiveAtEnd / 1048576.0:F1} MiB, {rows:N0} rows {full.LiveAtEnd / 1048576.0:F1} MiB ({full.LiveAtEnd / (double)rows:F0} B/row); heap high-water {quarter.PeakHeap / 1048576.0:F1} / {full.PeakHeap / 1048576.0:F1} MiB");
    }

    /// <summary>Every pair of the first <paramref name="count"/> rows compared by exact Jaccard over word 3-gram sets.</summary>
    private static (TimeSpan Elapsed, long Merged) AllPairs(int count)
    {
        var clock = Stopwatch.StartNew();
        var sets = Enumerable.Range(0, count).Select(i => PromptSource.Text(i).Split(' ')).Select(w => Enumerable.Range(0, w.Length - 2).Select(k => $"{w[k]} {w[k + 1]} {w[k + 2]}").ToHashSet()).ToList();
        long merged = 0;
        for (var i = 0; i < count; i++)
        {
            for (var j = i + 1; j < count; j++)
            {
                var shared = sets[i].Count(sets[j].Contains);
                merged += shared / (double)(sets[i].Count + sets[j].Count - shared) >= 0.8 ? 1 : 0;
            }
        }

        return (clock.Elapsed, merged);
    }

    private sealed record Result(TimeSpan Elapsed, long PeakHeap, long LiveAtEnd, long Dropped);

    private sealed class PromptSource(string name, long rows) : ISourceStep, ICountableSource
    {
        public string Name => name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => ["text"];

        /// <summary>Row i's text, a pure function of i: every tenth edits the last word of the row before, every twentieth copies row i − 7.</summary>
        public static string Text(long i)
        {
            if (i > 0 && i % 20 == 0)
            {
                return Text(i - 7);
            }

            var source = i % 10 == 9 ? i - 1 : i;
            var words = new string[Words];
            for (var k = 0; k < Words; k++)
            {
                words[k] = "w" + (StableWord(source, k) % Vocabulary).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            if (source != i)
            {
                words[Words - 1] = "edited";
            }

            return string.Join(' ', words);
        }

        private static ulong StableWord(long row, int position) =>
            Distil.Seeding.SplitMix64.Mix(((ulong)row * Distil.Seeding.SplitMix64.Gamma) + (ulong)position);

        public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => ValueTask.FromResult($"prompts:{rows}");

        public ValueTask<long?> CountAsync(CancellationToken cancellationToken) => ValueTask.FromResult<long?>(rows);

        public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.CompletedTask;
            var end = range.Limit is { } limit ? Math.Min(rows, range.Offset + limit) : rows;
            for (var i = range.Offset; i < end; i++)
            {
                yield return new Row(i) { ["text"] = Text(i) };
            }
        }
    }

    private sealed class DiscardingSink(string name) : ISinkStep
    {
        public string Name => name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => [];

        public ValueTask OpenAsync(SinkContext sink, IStepContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask WriteAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        /// <summary>The live heap after a full collection when the last row has passed: what the steps still hold (the dedup step's memory of the run).</summary>
        public static long LiveAtEnd { get; private set; }

        public ValueTask<IReadOnlyList<string>> CompleteAsync(CancellationToken cancellationToken)
        {
            LiveAtEnd = GC.GetTotalMemory(forceFullCollection: true);
            return ValueTask.FromResult<IReadOnlyList<string>>([]);
        }
    }
}

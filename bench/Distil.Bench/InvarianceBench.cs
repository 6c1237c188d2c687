using System.Diagnostics;
using Distil.Engine;
using Distil.Engine.Building;
using Microsoft.Extensions.AI;

namespace Distil.Bench;

/// <summary>
/// Batch invariance and its price: the same preset built with GroupQueryAttention (per-row lengths, left-aligned
/// caches) and with standard attention (Softmax over the padded width). For each, 24 sampled requests of mixed
/// lengths are decoded at max_batch_size 1, 8 and 32; the table gives output tok/s and how many generations differ
/// from the batch-1 run, and the GroupQueryAttention ÷ standard throughput ratio from the same run.
/// Options: --preset NAME (default tiny), --threads N, --tokens N (default 48).
/// </summary>
internal static class InvarianceBench
{
    private static readonly string[] Prompts = Enumerable.Range(0, 24)
        .Select(i => string.Join(' ', Enumerable.Repeat($"Tell me about topic {i} and why it matters.", 1 + (i * 7 % 9))))
        .ToArray();

    public static Task RunAsync(string[] args) =>
        Compare(EngineBench.OptionText(args, "--preset") ?? "tiny", EngineBench.Option(args, "--threads", Environment.ProcessorCount), EngineBench.Option(args, "--tokens", 48));

    /// <summary>Builds <paramref name="preset"/> with each attention kernel and prints the table and the ratios.</summary>
    public static async Task Compare(string preset, int threads, int tokens)
    {
        var temp = Path.Combine(Path.GetTempPath(), $"distil-bench-{Guid.NewGuid():N}");
        try
        {
            var throughput = new Dictionary<(AttentionKernel, int), double>();
            Console.WriteLine($"invariance: preset {preset}, {threads} threads, {Prompts.Length} sampled requests × {tokens} tokens");
            Console.WriteLine($"{"attention",-16} {"batch",6} {"tok/s",8} {"differ from batch 1",20}");
            foreach (var kernel in new[] { AttentionKernel.GroupQuery, AttentionKernel.Standard })
            {
                var folder = Path.Combine(temp, kernel.ToString());
                ModelBuilder.BuildPreset(preset, 1, folder, attention: kernel);
                List<IReadOnlyList<int>>? reference = null;
                foreach (var batch in new[] { 1, 8, 32 })
                {
                    var (outputs, tokensPerSecond) = await Generate(folder, threads, batch, tokens);
                    reference ??= outputs;
                    var differing = outputs.Where((o, i) => !o.SequenceEqual(reference[i])).Count();
                    throughput[(kernel, batch)] = tokensPerSecond;
                    Console.WriteLine($"{kernel,-16} {batch,6} {tokensPerSecond,8:F0} {differing,14} of {Prompts.Length}");
                }
            }

            foreach (var batch in new[] { 1, 8, 32 })
            {
                Console.WriteLine($"batch {batch}: GroupQueryAttention ÷ standard tok/s = {throughput[(AttentionKernel.GroupQuery, batch)] / throughput[(AttentionKernel.Standard, batch)]:F2}");
            }
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private static async Task<(List<IReadOnlyList<int>> Outputs, double TokensPerSecond)> Generate(string folder, int threads, int batch, int tokens)
    {
        using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = threads, MaxBatchSize = batch, PrefixCacheBytes = 0 });
        var requests = Prompts.Select((p, i) => new BatchChatRequest([new ChatMessage(ChatRole.User, p)], new ChatOptions { Temperature = 0.8f, TopP = 0.95f, MaxOutputTokens = tokens, Seed = 7 + i })).ToList();
        var clock = Stopwatch.StartNew();
        var results = await client.GetResponsesAsync(requests);
        var elapsed = clock.Elapsed.TotalSeconds;
        var outputs = results.Select(r => (IReadOnlyList<int>)((LocalGeneration)r.Response!.RawRepresentation!).TokenIds).ToList();
        var statistics = client.GetService<Distil.Engine.Generation.SchedulerStatistics>()!;
        Console.Error.WriteLine($"  batch {batch}: {statistics.DecodeSteps} steps, {statistics.PrefillTokens} prefill tokens, forward {statistics.ForwardTime.TotalSeconds:F1}s of {elapsed:F1}s");
        return (outputs, outputs.Sum(o => o.Count) / elapsed);
    }
}

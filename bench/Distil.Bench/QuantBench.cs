using System.Diagnostics;
using Distil.Engine;
using Distil.Engine.Building;
using Microsoft.Extensions.AI;

namespace Distil.Bench;

/// <summary>
/// The builder's weight formats side by side: the same preset and seed as fp32 and as MatMulNBits variants (4 bits in
/// blocks of 32 and 128, 8 bits in blocks of 32 and 128). For each, 20 greedy prompts × N tokens at max_batch_size 1
/// and 32: output tok/s, the weight file's size, and greedy agreement with fp32 (the share of tokens equal to fp32's
/// up to each generation's first divergence, counted over all positions). Process peak memory is printed once at the
/// end (one process holds every variant in turn, so a per-variant peak would need one process each).
/// Options: --preset NAME (default small), --threads N, --tokens N (default 32).
/// </summary>
internal static class QuantBench
{
    private static readonly string[] Prompts = Enumerable.Range(0, 20)
        .Select(i => $"Question {i}: explain in a few sentences why topic {i * 7 % 11} matters to people who work with data.")
        .ToArray();

    private static readonly (string Name, (int Bits, int BlockSize)? Format, string? Variant)[] Formats =
    [
        ("fp32", null, null),
        ("q4 b32", (4, 32), "q4"),
        ("q4 b128", (4, 128), "q4"),
        ("q8 b32", (8, 32), "quantized"),
        ("q8 b128", (8, 128), "quantized"),
    ];

    public static async Task RunAsync(string[] args)
    {
        var preset = EngineBench.OptionText(args, "--preset") ?? "small";
        var threads = EngineBench.Option(args, "--threads", Environment.ProcessorCount);
        var tokens = EngineBench.Option(args, "--tokens", 32);
        var temp = Path.Combine(Path.GetTempPath(), $"distil-bench-quant-{Guid.NewGuid():N}");
        try
        {
            Console.WriteLine($"quant: preset {preset}, {threads} threads, {Prompts.Length} greedy prompts × {tokens} tokens");
            Console.WriteLine($"{"format",-10} {"file MiB",9} {"tok/s b1",9} {"tok/s b32",10} {"greedy = fp32",14}");
            List<IReadOnlyList<int>>? reference = null;
            foreach (var (name, format, variant) in Formats)
            {
                var folder = Path.Combine(temp, name.Replace(' ', '-'));
                ModelBuilder.BuildPreset(preset, 1, folder, quantized: format);
                var file = Path.Combine(folder, "onnx", variant is null ? "model.onnx" : Distil.Engine.Onnx.ModelVariant.Files[variant]);
                var (outputs, single) = await Generate(folder, variant, threads, 1, tokens);
                var (_, batched) = await Generate(folder, variant, threads, 32, tokens);
                reference ??= outputs;
                Console.WriteLine($"{name,-10} {new FileInfo(file).Length / (1024.0 * 1024),9:F1} {single,9:F0} {batched,10:F0} {Agreement(reference, outputs),13:P1}");
                Directory.Delete(folder, recursive: true);
            }

            Console.WriteLine($"process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024):F0} MiB");
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>Tokens equal to the reference's before each generation's first divergence, over all reference tokens.</summary>
    private static double Agreement(List<IReadOnlyList<int>> reference, List<IReadOnlyList<int>> outputs)
    {
        var same = 0;
        for (var i = 0; i < reference.Count; i++)
        {
            same += reference[i].Zip(outputs[i]).TakeWhile(p => p.First == p.Second).Count();
        }

        return (double)same / Math.Max(1, reference.Sum(r => r.Count));
    }

    private static async Task<(List<IReadOnlyList<int>> Outputs, double TokensPerSecond)> Generate(string folder, string? variant, int threads, int batch, int tokens)
    {
        using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = threads, MaxBatchSize = batch, PrefixCacheBytes = 0, Variant = variant });
        var requests = Prompts.Select(p => new BatchChatRequest([new ChatMessage(ChatRole.User, p)], new ChatOptions { Temperature = 0, MaxOutputTokens = tokens })).ToList();
        var clock = Stopwatch.StartNew();
        var results = await client.GetResponsesAsync(requests);
        var elapsed = clock.Elapsed.TotalSeconds;
        var outputs = results.Select(r => (IReadOnlyList<int>)((LocalGeneration)r.Response!.RawRepresentation!).TokenIds).ToList();
        return (outputs, outputs.Sum(o => o.Count) / elapsed);
    }
}

using System.Diagnostics;
using System.Text.Json;
using Distil.Engine;
using Distil.Engine.Building;
using Distil.Engine.Onnx;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;

namespace Distil.Bench;

/// <summary>
/// The builder's weight formats side by side: the same preset and seed as fp32 (the baseline row), fp16 and
/// MatMulNBits variants (4 bits in blocks of 32 and 128, 8 bits in blocks of 32 and 128). Each variant runs in a
/// child process of its own (this program re-invoked with <see cref="ChildCommand"/>), so its peak resident memory
/// (VmHWM) is its own: 20 greedy prompts × N tokens at max_batch_size 1 and then 32, and one forward pass over each
/// prompt for its first-step logits. The table gives the file size, tok/s at batch 1 and 32 with their ratio to
/// fp32's, the max and mean |logit − fp32 logit| over the 20 prompts' first-step logits, greedy agreement with fp32
/// (the share of tokens equal to fp32's up to each generation's first divergence, over all positions) and the
/// child's peak RSS.
/// Options: --preset NAME (default small), --threads N, --tokens N (default 32).
/// </summary>
internal static class QuantBench
{
    /// <summary>The hidden sub-command a variant's child process runs.</summary>
    public const string ChildCommand = "quant-variant";

    private static readonly string[] Prompts = Enumerable.Range(0, 20)
        .Select(i => $"Question {i}: explain in a few sentences why topic {i * 7 % 11} matters to people who work with data.")
        .ToArray();

    private static readonly (string Name, VariantFormat? Format)[] Formats =
    [
        ("fp32", null),
        ("fp16", VariantFormat.Options["fp16"]),
        ("q4 b32", VariantFormat.Options["q4"]),
        ("q4 b32 fp32c", VariantFormat.Options["q4"] with { Int8Compute = false }),
        ("q4 b128", VariantFormat.Options["q4-b128"]),
        ("q8 b32", VariantFormat.Options["q8"]),
        ("q8 b128", VariantFormat.Options["q8-b128"]),
    ];

    public static async Task RunAsync(string[] args)
    {
        var preset = EngineBench.OptionText(args, "--preset") ?? "small";
        var folder = Path.Combine(Path.GetTempPath(), $"distil-bench-quant-{Guid.NewGuid():N}");
        try
        {
            ModelBuilder.BuildPreset(preset, 1, folder);
            Console.WriteLine($"quant: preset {preset}");
            await Table(folder, EngineBench.Option(args, "--threads", Environment.ProcessorCount), EngineBench.Option(args, "--tokens", 32));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>Prints the table for <paramref name="folder"/>, a preset built with seed 1: each variant is written
    /// beside its <c>onnx/model.onnx</c> in turn, measured, and deleted again.</summary>
    public static async Task Table(string folder, int threads, int tokens)
    {
        var config = LlamaConfig.Load(Path.Combine(folder, "config.json"));
        Console.WriteLine($"variants: {threads} threads, {Prompts.Length} greedy prompts × {tokens} tokens, each variant in its own process");
        Console.WriteLine($"{"format",-13} {"file MiB",9} {"tok/s b1",9} {"÷ fp32",7} {"tok/s b32",10} {"÷ fp32",7} {"max |Δlogit|",13} {"mean |Δlogit|",14} {"greedy = fp32",14} {"peak RSS MiB",13}");
        Measurement? baseline = null;
        foreach (var (name, format) in Formats)
        {
            if (format is not null)
            {
                ModelBuilder.WriteVariant(config, new RandomLlamaWeights(config, 1), folder, format);
            }

            var file = Path.Combine(folder, "onnx", format?.FileName ?? "model.onnx");
            var m = await MeasureInChild(folder, format?.Variant ?? "fp32", threads, tokens);
            baseline ??= m;
            var errors = m.Logits.Zip(baseline.Logits).SelectMany(p => p.First.Zip(p.Second, (a, b) => (double)Math.Abs(a - b))).ToList();
            Console.WriteLine($"{name,-13} {new FileInfo(file).Length / (1024.0 * 1024),9:F1} {m.Single,9:F1} {m.Single / baseline.Single,7:F2} {m.Batched,10:F1} {m.Batched / baseline.Batched,7:F2} " +
                $"{errors.Max(),13:G3} {errors.Average(),14:G3} {Agreement(baseline.Outputs, m.Outputs),14:P1} {m.PeakBytes / (1024.0 * 1024),13:F0}");
            if (format is not null)
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>The child: measures one variant of a folder and writes <see cref="Measurement"/> as JSON to the file named last.</summary>
    /// <param name="args">FOLDER VARIANT THREADS TOKENS RESULT_FILE.</param>
    public static async Task RunChildAsync(string[] args)
    {
        var (folder, variant, threads, tokens) = (args[0], args[1] == "fp32" ? null : args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
        var (outputs, single, promptIds) = await Generate(folder, variant, threads, 1, tokens);
        var (_, batched, _) = await Generate(folder, variant, threads, 32, tokens);
        var logits = FirstStepLogits(Path.Combine(folder, "onnx", ModelVariant.Files[variant ?? "fp32"]), promptIds, threads);
        using var process = Process.GetCurrentProcess();
        await File.WriteAllTextAsync(args[4], JsonSerializer.Serialize(new Measurement(outputs, single, batched, logits, process.PeakWorkingSet64)));
    }

    private sealed record Measurement(List<int[]> Outputs, double Single, double Batched, float[][] Logits, long PeakBytes);

    private static async Task<Measurement> MeasureInChild(string folder, string variant, int threads, int tokens)
    {
        var result = Path.Combine(folder, $"{variant}.json");
        // Run as `dotnet distil-bench.dll`, the process path is the dotnet host and the assembly must be named first.
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(QuantBench).Assembly.Location);
        }

        foreach (var argument in new[] { ChildCommand, folder, variant, threads.ToString(System.Globalization.CultureInfo.InvariantCulture), tokens.ToString(System.Globalization.CultureInfo.InvariantCulture), result })
        {
            start.ArgumentList.Add(argument);
        }

        using var child = Process.Start(start)!;
        var errors = child.StandardError.ReadToEndAsync();
        await child.WaitForExitAsync();
        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"the {variant} child exited with {child.ExitCode}: {await errors}");
        }

        var measurement = JsonSerializer.Deserialize<Measurement>(await File.ReadAllTextAsync(result))!;
        File.Delete(result);
        return measurement;
    }

    /// <summary>Tokens equal to the reference's before each generation's first divergence, over all reference tokens.</summary>
    private static double Agreement(List<int[]> reference, List<int[]> outputs)
    {
        var same = 0;
        for (var i = 0; i < reference.Count; i++)
        {
            same += reference[i].Zip(outputs[i]).TakeWhile(p => p.First == p.Second).Count();
        }

        return (double)same / Math.Max(1, reference.Sum(r => r.Length));
    }

    private static async Task<(List<int[]> Outputs, double TokensPerSecond, int[][] PromptIds)> Generate(string folder, string? variant, int threads, int batch, int tokens)
    {
        using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = threads, MaxBatchSize = batch, PrefixCacheBytes = 0, Variant = variant });
        var requests = Prompts.Select(p => new BatchChatRequest([new ChatMessage(ChatRole.User, p)], new ChatOptions { Temperature = 0, MaxOutputTokens = tokens })).ToList();
        var clock = Stopwatch.StartNew();
        var results = await client.GetResponsesAsync(requests);
        var elapsed = clock.Elapsed.TotalSeconds;
        var outputs = results.Select(r => ((LocalGeneration)r.Response!.RawRepresentation!).TokenIds.ToArray()).ToList();
        var promptIds = Prompts.Select(p => client.Tokenize([new ChatMessage(ChatRole.User, p)])).ToArray();
        return (outputs, outputs.Sum(o => o.Length) / elapsed, promptIds);
    }

    /// <summary>Each prompt's next-token logits from one bare forward pass over it (empty cache of the graph's own KV type).</summary>
    private static float[][] FirstStepLogits(string modelFile, int[][] promptIds, int threads)
    {
        OrtEnvironment.Prepare();
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtEnvironment.QuietLogging };
        using var session = new InferenceSession(modelFile, options);
        var pastNames = session.InputMetadata.Keys.Where(n => n.StartsWith("past_key_values.", StringComparison.Ordinal)).ToList();
        return promptIds.Select(prompt =>
        {
            var length = prompt.Length;
            using var ids = OrtValue.CreateTensorValueFromMemory(prompt.Select(i => (long)i).ToArray(), [1, length]);
            using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, length).ToArray(), [1, length]);
            using var positions = OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, length).Select(i => (long)i).ToArray(), [1, length]);
            var pasts = pastNames.Select(n =>
            {
                var meta = session.InputMetadata[n];
                return OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, meta.ElementDataType, [1, meta.Dimensions[1], 0, meta.Dimensions[3]]);
            }).ToList();
            try
            {
                using var outputs = session.Run(new RunOptions(), ["input_ids", "attention_mask", "position_ids", .. pastNames], [ids, mask, positions, .. pasts], ["logits"]);
                var all = outputs[0].GetTensorDataAsSpan<float>();
                var vocab = all.Length / length;
                return all[^vocab..].ToArray();
            }
            finally
            {
                foreach (var past in pasts)
                {
                    past.Dispose();
                }
            }
        }).ToArray();
    }
}

using System.Diagnostics;
using Distil.Engine.Building;

namespace Distil.Bench;

/// <summary>
/// The fused GroupQueryAttention graph against the unfused one built from the same seeded weights in the same run:
/// bare session and engine tok/s at each batch size, alternated (in swapped order every repeat) so that outside load
/// hits both alike, with the batch-1 roofline fraction of each. <c>fusion --preset small [--batches 1,8,32] [--tokens 32] [--repeats 2]</c>.
/// </summary>
internal static class FusionBench
{
    public static async Task RunAsync(string[] args)
    {
        var threads = EngineBench.Option(args, "--threads", Environment.ProcessorCount);
        var steps = EngineBench.Option(args, "--tokens", 32);
        var repeats = EngineBench.Option(args, "--repeats", 2);
        var preset = EngineBench.OptionText(args, "--preset") ?? "small";
        var batches = EngineBench.OptionText(args, "--batches")?.Split(',').Select(int.Parse).ToArray() ?? [1, 8, 32];
        var temp = Path.Combine(Path.GetTempPath(), $"distil-bench-{Guid.NewGuid():N}");
        try
        {
            (string Name, string Folder)[] graphs = [("fused", Path.Combine(temp, "fused")), ("unfused", Path.Combine(temp, "unfused"))];
            foreach (var (name, folder) in graphs)
            {
                var build = Stopwatch.StartNew();
                ModelBuilder.BuildPreset(preset, 1, folder, attention: name == "fused" ? AttentionKernel.GroupQuery : AttentionKernel.GroupQueryUnfused);
                Console.WriteLine($"fusion: built {preset} {name} in {build.Elapsed.TotalSeconds:F1}s, {Roofline.WeightBytes(folder) / (1024.0 * 1024):F0} MiB");
            }

            var bandwidth = Roofline.MeasureReadBandwidth(threads);
            Console.WriteLine($"fusion: {threads} threads, {steps} new tokens, best of {repeats} alternated runs; read bandwidth {bandwidth / 1e9:F1} GB/s; load {File.ReadAllText("/proc/loadavg").Trim()}");
            Console.WriteLine($"{"batch",6} {"graph",8} {"bare tok/s",11} {"engine tok/s",13} {"roofline",9}");
            foreach (var batch in batches)
            {
                var bare = new double[graphs.Length];
                var engine = new double[graphs.Length];
                for (var i = 0; i < repeats; i++)
                {
                    // Each repeat swaps which graph goes first, so a load that rises or falls during a pair favours neither.
                    foreach (var g in i % 2 == 0 ? [0, 1] : new[] { 1, 0 })
                    {
                        bare[g] = Math.Max(bare[g], EngineBench.BareSessionTokensPerSecond(graphs[g].Folder, threads, batch, steps));
                        engine[g] = Math.Max(engine[g], (await EngineBench.EngineTokensPerSecond(graphs[g].Folder, threads, batch, steps, Distil.Engine.Generation.SchedulerOptions.DefaultKvCapacityChunk)).TokensPerSecond);
                    }
                }

                for (var g = 0; g < graphs.Length; g++)
                {
                    // Roofline: every weight byte read once per step, which only batch 1 is bound by.
                    var roofline = batch == 1 ? $"{engine[g] * Roofline.WeightBytes(graphs[g].Folder) / bandwidth:P0}" : "";
                    Console.WriteLine($"{batch,6} {graphs[g].Name,8} {bare[g],11:F1} {engine[g],13:F1} {roofline,9}");
                }

                Console.WriteLine($"{batch,6} {"fused÷unfused",8} bare {bare[0] / bare[1]:F2}, engine {engine[0] / engine[1]:F2}");
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
}

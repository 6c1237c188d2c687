using System.Diagnostics;
using System.Numerics;

namespace Distil.Bench;

/// <summary>
/// The memory roofline of batch-1 decoding: every step streams all weights from memory once, so tokens/s can be
/// at most (read bandwidth ÷ weight bytes). Measured on this machine in the same run as the engine figures.
/// </summary>
internal static class Roofline
{
    /// <summary>Read bandwidth in bytes/s: the best of a few passes summing a buffer far larger than any cache, on <paramref name="threads"/> threads.</summary>
    public static double MeasureReadBandwidth(int threads, long bufferBytes = 1L << 30)
    {
        var data = GC.AllocateUninitializedArray<long>((int)(bufferBytes / sizeof(long)));
        Parallel.For(0, threads, t =>
        {
            var (start, length) = Slice(data.Length, threads, t);
            data.AsSpan(start, length).Fill(t + 1); // touch every page before timing
        });

        var best = 0.0;
        for (var pass = 0; pass < 4; pass++)
        {
            var sums = new long[threads];
            var clock = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                var (start, length) = Slice(data.Length, threads, t);
                sums[t] = Sum(data.AsSpan(start, length));
            });
            var seconds = clock.Elapsed.TotalSeconds;
            if (sums.Sum() == 0)
            {
                throw new InvalidOperationException("the buffer was not read"); // keeps the sums observable
            }

            best = Math.Max(best, bufferBytes / seconds);
        }

        return best;
    }

    /// <summary>Bytes a batch-1 decode step reads: the model's weight files (graph with initializers and external data).</summary>
    public static long WeightBytes(string modelFolder) =>
        Directory.EnumerateFiles(Path.Combine(modelFolder, "onnx"), "model.onnx*").Sum(f => new FileInfo(f).Length);

    private static (int Start, int Length) Slice(int total, int parts, int index)
    {
        var size = total / parts;
        var start = index * size;
        return (start, index == parts - 1 ? total - start : size);
    }

    private static long Sum(ReadOnlySpan<long> span)
    {
        var acc = Vector<long>.Zero;
        var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<long, Vector<long>>(span);
        foreach (var v in vectors)
        {
            acc += v;
        }

        var total = Vector.Sum(acc);
        for (var i = vectors.Length * Vector<long>.Count; i < span.Length; i++)
        {
            total += span[i];
        }

        return total;
    }
}

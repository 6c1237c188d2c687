using Distil.Engine.Building;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Distil.Engine.Tests;

/// <summary>
/// The fused GroupQueryAttention graph (rotary inside the op from cos/sin tables, packed q/k/v, ONNX Runtime's
/// Simplified/SkipSimplifiedLayerNormalization) computes what the unfused GroupQueryAttention graph and the
/// standard-attention graph of the same seeded weights compute: a right-padded prefill of rows of unequal lengths,
/// then decode steps where each row's next token goes to its own column (the positions the fused graph derives
/// from the row lengths, the others read from position_ids).
/// </summary>
[Collection(ArchitecturePresetCollection.Name)]
public sealed class FusedGraphTests(ArchitecturePresets presets, ITestOutputHelper output)
{
    private const int DecodeSteps = 5;

    private static readonly long[][] Prompts = [[5, 17, 912, 4, 33], [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 81], [2000, 3], [64, 900, 12, 13, 14, 15, 16, 17, 18]];

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-qwen2")]
    [InlineData("tiny-qwen3")]
    public void Fused_graph_gives_the_unfused_and_the_standard_graphs_logits_in_prefill_and_decode(string preset)
    {
        using var temp = new TempFolder();
        ModelBuilder.BuildPreset(preset, 1, temp.Sub("unfused"), attention: AttentionKernel.GroupQueryUnfused);
        ModelBuilder.BuildPreset(preset, 1, temp.Sub("standard"), attention: AttentionKernel.Standard);
        using var fused = OnnxCausalLM.Load(presets.Folder(preset), ExecutionDevice.Cpu, threads: 1);
        using var unfused = OnnxCausalLM.Load(temp.Sub("unfused"), ExecutionDevice.Cpu, threads: 1);
        using var standard = OnnxCausalLM.Load(temp.Sub("standard"), ExecutionDevice.Cpu, threads: 1);
        Assert.True(fused.Summary.Uses("SkipSimplifiedLayerNormalization") && fused.Summary.Uses("SimplifiedLayerNormalization"), "the fused graph should norm with ONNX Runtime's ops");
        Assert.False(fused.Summary.Uses("Cos") || fused.Summary.Uses("ReduceMean"), "the fused graph should rotate inside GroupQueryAttention and norm in one op");
        Assert.False(unfused.Summary.Uses("SkipSimplifiedLayerNormalization"));
        Assert.True(unfused.Summary.Uses("GroupQueryAttention") && unfused.Summary.Uses("Cos"));

        var expected = Steps(unfused, leftAligned: true);
        var actual = Steps(fused, leftAligned: true);
        var portable = Steps(standard, leftAligned: false);
        for (var step = 0; step < expected.Count; step++)
        {
            var scale = expected[step].Max(Math.Abs);
            var unfusedGap = MaxDifference(expected[step], actual[step]);
            var standardGap = MaxDifference(portable[step], actual[step]);
            output.WriteLine($"{preset} step {step}: max |logit| {scale:G3}, fused vs unfused {unfusedGap:G3}, fused vs standard {standardGap:G3}");
            // Observed: about 5e-6 on logits near 10 (fp32 rounding of a different operation order).
            Assert.True(unfusedGap <= 1e-5f * Math.Max(1, scale), $"{preset} step {step}: fused and unfused logits differ by {unfusedGap}");
            Assert.True(standardGap <= 1e-5f * Math.Max(1, scale), $"{preset} step {step}: fused and standard logits differ by {standardGap}");
        }
    }

    [Fact]
    public void Fused_fp16_variant_loads_and_tracks_the_unfused_fp16_variant()
    {
        using var temp = new TempFolder();
        var source = presets.Folder("tiny");
        var config = LlamaConfig.Load(Path.Combine(source, "config.json"));
        foreach (var (name, kernel) in new[] { ("fused", AttentionKernel.GroupQuery), ("unfused", AttentionKernel.GroupQueryUnfused) })
        {
            // The preset's folder without its fp32 graph: the fp16 file is what is compared.
            Directory.CreateDirectory(temp.Sub(name));
            foreach (var file in Directory.EnumerateFiles(source))
            {
                File.Copy(file, Path.Combine(temp.Sub(name), Path.GetFileName(file)));
            }

            ModelBuilder.WriteVariant(config, new RandomLlamaWeights(config, 1), temp.Sub(name), VariantFormat.Options["fp16"], kernel);
        }

        using var fused = OnnxCausalLM.Load(temp.Sub("fused"), ExecutionDevice.Cpu, threads: 1, variant: "fp16");
        using var unfused = OnnxCausalLM.Load(temp.Sub("unfused"), ExecutionDevice.Cpu, threads: 1, variant: "fp16");
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, fused.Layout.KvType);
        Assert.True(fused.Summary.Uses("SkipSimplifiedLayerNormalization"));
        var expected = Steps(unfused, leftAligned: true);
        var actual = Steps(fused, leftAligned: true);
        for (var step = 0; step < expected.Count; step++)
        {
            var gap = MaxDifference(expected[step], actual[step]);
            output.WriteLine($"fp16 step {step}: max |logit| {expected[step].Max(Math.Abs):G3}, fused vs unfused {gap:G3}");
            // Observed: about 0.008 (fp16 rounding of the residual sum and the norm's output, in different places).
            Assert.True(gap < 0.03f, $"fp16 step {step}: fused and unfused logits differ by {gap}");
        }
    }

    /// <summary>Each row's last-position logits ([rows, vocab]) after the prefill and after every decode step. A
    /// GroupQueryAttention graph gets left-aligned masks (the row's tokens from column 0); the standard graph gets
    /// the concatenating layout: the prompt's padding stays masked and each step's column is appended after it.</summary>
    private static List<float[]> Steps(OnnxCausalLM model, bool leftAligned)
    {
        var rows = Prompts.Length;
        var vocab = model.VocabSize;
        var (ids, positions, mask, width) = RightPadded.Of(Prompts);
        var results = new List<float[]> { new float[rows * vocab] };
        using var empty = model.EmptyCache(rows);
        var cache = model.Forward(ids, mask, positions, rows, width, empty, results[0], Prompts.Select(p => p.Length - 1).ToArray());
        try
        {
            for (var step = 0; step < DecodeSteps; step++)
            {
                var total = width + step + 1;
                var stepMask = new long[rows * total];
                var next = new long[rows];
                var stepPositions = new long[rows];
                for (var r = 0; r < rows; r++)
                {
                    var length = Prompts[r].Length;
                    next[r] = 100 + (37 * step) + r;
                    stepPositions[r] = length + step;
                    if (leftAligned)
                    {
                        stepMask.AsSpan(r * total, length + step + 1).Fill(1);
                    }
                    else
                    {
                        stepMask.AsSpan(r * total, length).Fill(1);
                        stepMask.AsSpan((r * total) + width, step + 1).Fill(1);
                    }
                }

                var logits = new float[rows * vocab];
                var after = model.Forward(next, stepMask, stepPositions, rows, 1, cache, logits);
                cache.Dispose();
                cache = after;
                results.Add(logits);
            }
        }
        finally
        {
            cache.Dispose();
        }

        return results;
    }

    private static float MaxDifference(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
}

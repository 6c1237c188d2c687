using Distil.Engine.Building;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;

namespace Distil.Engine.Tests;

/// <summary>The ONNX graph (in a real ONNX Runtime session) computes what an independent C# forward pass computes.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ReferenceForwardTests(TinyModels models)
{
    private static readonly int[][] Prompts = [[5, 17, 200, 3, 99, 42, 7], [1, 2], [300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 11]];

    public static TheoryData<string, bool, bool, bool, int> Variants => new()
    {
        // name, grouped-query attention, llama3 rope scaling, tied head, bf16
        { "gqa-llama3-untied-f32", true, true, false, 1 },
        { "mha-plain-tied-bf16", false, false, true, 2 },
        { "gqa-llama3-tied-bf16-sharded", true, true, true, 3 },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Graph_logits_match_reference_with_and_without_cache(string name, bool gqa, bool scaling, bool tied, int variant)
    {
        var shape = new ReferenceShape(48, 96, 2, 4, gqa ? 2 : 4, 12, 400, 1e-5, 500000, tied, scaling ? (8.0, 1.0, 4.0, 32) : null);
        using var temp = new TempFolder();
        var bf16 = variant >= 2;
        var weights = TestCheckpoint.Write(temp.Sub("hf"), shape, seed: variant, bf16, shards: variant == 3 ? 3 : 1);
        ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("onnx"));
        var reference = new ReferenceLlama(shape, weights);
        using var model = OnnxCausalLM.Load(temp.Sub("onnx"), ExecutionDevice.Cpu, threads: 1);
        AssertMatchesCachedAndUncached(model, reference.Logits, Prompts, name);
    }

    /// <summary>Every prefix of every prompt run from scratch, then each prompt prefilled halfway and decoded one
    /// token at a time through the KV cache: the logits equal the reference's within 1e-4 at every position.</summary>
    internal static void AssertMatchesCachedAndUncached(OnnxCausalLM model, Func<int[], float[][]> reference, IEnumerable<int[]> prompts, string name)
    {
        foreach (var prompt in prompts)
        {
            var expected = reference(prompt);

            // Uncached: every prefix from scratch.
            for (var length = 1; length <= prompt.Length; length++)
            {
                AssertClose(expected[length - 1], LastLogits(model, prompt[..length]), $"{name} uncached length {length}");
            }

            // Cached: prefill half, then one token at a time.
            var split = prompt.Length / 2 + 1;
            var logits = new float[model.VocabSize];
            var cache = model.Forward(prompt[..split].Select(t => (long)t).ToArray(), Ones(split), Range(0, split), 1, split, model.EmptyCache(1), logits);
            AssertClose(expected[split - 1], logits, $"{name} prefill");
            for (var t = split; t < prompt.Length; t++)
            {
                var next = model.Forward([prompt[t]], Ones(t + 1), [t], 1, 1, cache, logits);
                cache.Dispose();
                cache = next;
                AssertClose(expected[t], logits, $"{name} cached step {t}");
            }

            cache.Dispose();
        }
    }

    [Fact]
    public void Tiny_preset_matches_reference_from_its_seeded_weights()
    {
        var (config, _) = ModelPreset.Get("tiny");
        var random = new RandomLlamaWeights(config, 1);
        var weights = LlamaWeightNames.All(config).ToDictionary(x => x.Name, x => random.Read(x.Name, out _));
        var s = config.RopeScaling!;
        var shape = new ReferenceShape(config.HiddenSize, config.IntermediateSize, config.NumLayers, config.NumHeads, config.NumKvHeads, config.HeadDim, config.VocabSize, config.RmsNormEps, config.RopeTheta, config.TieWordEmbeddings, (s.Factor, s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings));
        using var model = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        int[] prompt = [100256, 9906, 11, 1917, 0, 3639];
        var expected = new ReferenceLlama(shape, weights).Logits(prompt);
        AssertClose(expected[^1], LastLogits(model, prompt), "tiny preset");
    }

    internal static float[] LastLogits(OnnxCausalLM model, int[] tokens)
    {
        var logits = new float[model.VocabSize];
        using var empty = model.EmptyCache(1);
        using var cache = model.Forward(tokens.Select(t => (long)t).ToArray(), Ones(tokens.Length), Range(0, tokens.Length), 1, tokens.Length, empty, logits);
        return logits;
    }

    internal static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(worst <= 1e-4, $"{what}: max |Δlogit| = {worst:E2} > 1e-4");
    }

    private static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();

    private static long[] Range(int start, int count) => Enumerable.Range(start, count).Select(i => (long)i).ToArray();
}

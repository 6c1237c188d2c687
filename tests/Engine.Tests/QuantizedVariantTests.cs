using Distil.Engine.Building;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Distil.Engine.Tests;

/// <summary>
/// The builder's MatMulNBits variants as ONNX Runtime runs them: the lm_head quantized with the projections (found by
/// node and weight, so a head written as Gemm or as FusedMatMul is found alike), the tied embedding's Gather kept
/// on its float table, and int8 compute (accuracy_level 4) close to the rounded weights' own float model.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class QuantizedVariantTests(TinyModels models, ITestOutputHelper output)
{
    private static readonly long[] Prompt = [5, 17, 200, 3, 99, 42, 7];

    public static TheoryData<string> Quantized => [.. VariantFormat.Options.Keys.Where(k => k != "fp16")];

    [Theory]
    [MemberData(nameof(Quantized))]
    public async Task Each_variant_quantizes_the_lm_head_and_generates(string option)
    {
        var format = VariantFormat.Options[option];
        var (config, _) = ModelPreset.Get("tiny");
        var folder = models.CopyOfA($"variant-{option}");
        ModelBuilder.WriteVariant(config, new RandomLlamaWeights(config, 1), folder, format);

        var summary = OnnxFileSummary.Read(Path.Combine(folder, "onnx", format.FileName));
        Assert.True(summary.Uses("MatMulNBits"));
        Assert.False(summary.Uses("Gemm"), "the lm_head Gemm is rewritten");
        var blocks = (config.HiddenSize + format.BlockSize - 1) / format.BlockSize;
        var head = summary.Weights.Where(w => w.Name.StartsWith(LlamaWeightNames.LmHead, StringComparison.Ordinal)).ToList();
        Assert.Equal(
            [(1, (long)config.VocabSize * blocks * 4), (2, (long)config.VocabSize * blocks * format.BlockSize * format.Bits / 8)],
            head.Select(w => (w.DataType, w.Bytes)).Order());
        Assert.DoesNotContain(summary.Weights, w => w.Name == LlamaWeightNames.LmHead);

        // models info reads the bit width from the nodes, not the uint8 the blocks are stored in: 8-bit weights
        // count once per byte, 4-bit ones twice, scales not at all, and the count is the fp32 model's. (tiny's
        // untied fp32 embedding holds most bytes, so its weight type stays float32: see the tied test.)
        var info = ModelInfo.Read(folder, format.Variant);
        Assert.Equal(ModelInfo.Read(folder).Parameters, info.Parameters);
        Assert.Equal(summary.WeightBytes, info.WeightBytes);

        await using var client = LocalModel.Load(folder, new LocalModelOptions { Variant = format.Variant, Threads = 1 });
        var response = await client.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(8));
        Assert.Equal(8, Chat.Tokens(response).Count);
    }

    [Theory]
    [InlineData(4, 32)]
    [InlineData(4, 128)]
    [InlineData(8, 32)]
    [InlineData(8, 128)]
    public void Int8_compute_stays_close_to_the_rounded_weights_and_fp32(int bits, int blockSize)
    {
        var (config, _) = ModelPreset.Get("tiny");
        var weights = new RandomLlamaWeights(config, 1);
        var folder = models.CopyOfA($"int8-q{bits}-b{blockSize}");
        QuantizedVariant.Write(config, weights, Path.Combine(folder, "onnx", "model_q4.onnx"), bits: bits, blockSize: blockSize);
        var reference = models.CopyOfA($"int8-q{bits}-b{blockSize}-reference");
        QuantizedVariant.Write(config, weights, Path.Combine(reference, "onnx", "model.onnx"), dequantized: true, bits: bits, blockSize: blockSize);

        using var quantized = OnnxCausalLM.Load(folder, ExecutionDevice.Cpu, threads: 1, variant: "q4");
        using var rounded = OnnxCausalLM.Load(reference, ExecutionDevice.Cpu, threads: 1);
        using var full = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        var (fromQuantized, fromRounded, fromFull) = (ModelLayoutTests.LastLogits(quantized, Prompt), ModelLayoutTests.LastLogits(rounded, Prompt), ModelLayoutTests.LastLogits(full, Prompt));
        var spread = fromFull.Max(Math.Abs);
        var activations = MaxError(fromQuantized, fromRounded);
        var weightRounding = MaxError(fromRounded, fromFull);
        var total = MaxError(fromQuantized, fromFull);
        output.WriteLine($"q{bits} b{blockSize}: max |logit| {spread:G3}; int8 activations {activations:G3}, weight rounding {weightRounding:G3}, both {total:G3}");

        Assert.True(activations > 0, "accuracy_level 4 quantizes the activations");
        // Each product rounds its activations to 8 bits per block (≤ 1/254 of the block's largest value); some ten
        // products lie between the embedding and the logits.
        Assert.True(activations < 0.03 * spread, $"int8 activations move the logits by {activations} of {spread}");
        // A weight is off by at most half a step: 1/14 of its block's largest value at 4 bits, 1/254 at 8.
        Assert.True(total < (bits == 4 ? 0.5 : 0.05) * spread, $"q{bits} logits are {total} from fp32's (max |logit| {spread})");
    }

    [Theory]
    [InlineData(4, 32)]
    [InlineData(8, 128)] // K = 64 is shorter than a block: the rows Gather reads leave out MatMulNBits' padding
    public void A_tied_table_is_read_quantized_by_both_the_head_and_the_embedding(int bits, int blockSize)
    {
        var (config, _) = ModelPreset.Get("tiny");
        config = config with { TieWordEmbeddings = true };
        var weights = new RandomLlamaWeights(config, 3);
        var folder = models.CopyOfA($"tied-q{bits}");
        QuantizedVariant.Write(config, weights, Path.Combine(folder, "onnx", "model_q4.onnx"), bits: bits, blockSize: blockSize, accuracyLevel: Int4Weights.Fp32Compute);
        var reference = models.CopyOfA($"tied-q{bits}-reference");
        QuantizedVariant.Write(config, weights, Path.Combine(reference, "onnx", "model.onnx"), dequantized: true, bits: bits, blockSize: blockSize);
        var fp32 = models.CopyOfA($"tied-q{bits}-fp32");
        ModelBuilder.Build(config, weights, float16: false, fp32);

        var summary = OnnxFileSummary.Read(Path.Combine(folder, "onnx", "model_q4.onnx"));
        Assert.False(summary.Uses("Gemm"));
        Assert.DoesNotContain(summary.Weights, w => w.DataType == (int)OnnxDataType.Float && w.Dims.SequenceEqual([(long)config.VocabSize, config.HiddenSize]));
        Assert.True(summary.Uses("GatherBlockQuantized"));
        Assert.Contains(summary.Weights, w => w.Name == $"{LlamaWeightNames.Embedding}_q{bits}_rows" && w.Dims.SequenceEqual([(long)config.VocabSize, config.HiddenSize * bits / 8]));
        Assert.Equal($"int{bits}", ModelInfo.Read(folder, "q4").WeightType);
        var full = OnnxFileSummary.Read(Path.Combine(fp32, "onnx", "model.onnx"));
        Assert.True(summary.WeightBytes < full.WeightBytes, $"the quantized file holds {summary.WeightBytes} bytes of weights against fp32's {full.WeightBytes}");

        using var quantized = OnnxCausalLM.Load(folder, ExecutionDevice.Cpu, threads: 1, variant: "q4");
        using var rounded = OnnxCausalLM.Load(reference, ExecutionDevice.Cpu, threads: 1);
        using var original = OnnxCausalLM.Load(fp32, ExecutionDevice.Cpu, threads: 1);
        var fromRounded = ModelLayoutTests.LastLogits(rounded, Prompt);
        AssertSame(ModelLayoutTests.LastLogits(quantized, Prompt), fromRounded);
        Assert.True(MaxError(fromRounded, ModelLayoutTests.LastLogits(original, Prompt)) > 0, "the rounding changed the model");
    }

    [Fact]
    public void The_builders_FusedMatMul_head_is_quantized()
    {
        var (config, _) = ModelPreset.Get("tiny");
        var weights = new RandomLlamaWeights(config, 1);
        var graph = ModelBuilder.Graph(config, weights, OnnxDataType.Float, AttentionKernel.GroupQuery);
        Assert.Contains(graph.Nodes, n => n.OpType == "FusedMatMul" && n.Inputs.Contains(LlamaWeightNames.LmHead));
        var folder = models.CopyOfA("fused-head-q8");
        ModelBuilder.WriteGraph(Int4Weights.Quantize(graph, bits: 8, accuracyLevel: Int4Weights.Fp32Compute), Path.Combine(folder, "onnx", "model_q4.onnx"), externalData: false);
        var reference = models.CopyOfA("fused-head-q8-reference");
        ModelBuilder.WriteGraph(Int4Weights.Quantize(graph, dequantize: true, bits: 8), Path.Combine(reference, "onnx", "model.onnx"), externalData: false);

        var summary = OnnxFileSummary.Read(Path.Combine(folder, "onnx", "model_q4.onnx"));
        Assert.False(summary.Uses("FusedMatMul"));
        Assert.Contains(summary.Weights, w => w.Name == LlamaWeightNames.LmHead + "_q8");
        Assert.True(OnnxFileSummary.Read(Path.Combine(reference, "onnx", "model.onnx")).Uses("FusedMatMul"));

        using var quantized = OnnxCausalLM.Load(folder, ExecutionDevice.Cpu, threads: 1, variant: "q4");
        using var rounded = OnnxCausalLM.Load(reference, ExecutionDevice.Cpu, threads: 1);
        AssertSame(ModelLayoutTests.LastLogits(quantized, Prompt), ModelLayoutTests.LastLogits(rounded, Prompt));
    }

    private static double MaxError(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();

    /// <summary>fp32 compute of the packed weights equals float products of the same rounded weights up to
    /// summation order.</summary>
    private static void AssertSame(float[] actual, float[] expected)
    {
        for (var v = 0; v < actual.Length; v++)
        {
            Assert.True(Math.Abs(actual[v] - expected[v]) <= 1e-4 + (1e-4 * Math.Abs(expected[v])), $"logit {v}: quantized {actual[v]} vs dequantized {expected[v]}");
        }
    }
}

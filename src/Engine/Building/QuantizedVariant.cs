using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>Writes a quantized variant (MatMulNBits projections and lm_head: <c>onnx/model_q4.onnx</c> at the default
/// 4 bits in blocks of 32) next to a model's full-precision file, as transformers.js / onnx-community folders carry one.</summary>
internal static class QuantizedVariant
{
    /// <param name="dequantized">Write the rounded weights back as float MatMuls instead (the quantized graph's
    /// exact reference).</param>
    /// <param name="bits">4 or 8 bits per weight.</param>
    /// <param name="blockSize">Weights per scale (a power of two from 16 to 256; 32 or 128 are the usual choices).</param>
    /// <param name="accuracyLevel">MatMulNBits <c>accuracy_level</c> (<see cref="Int4Weights.Int8Compute"/> or
    /// <see cref="Int4Weights.Fp32Compute"/>).</param>
    public static void Write(LlamaConfig config, ILlamaWeights weights, string modelPath, bool dequantized = false, AttentionKernel attention = AttentionKernel.GroupQuery, int bits = 4, int blockSize = Int4Weights.BlockSize, int accuracyLevel = Int4Weights.Int8Compute) =>
        ModelBuilder.WriteGraph(Graph(config, weights, attention, bits, blockSize, dequantized, accuracyLevel), modelPath, externalData: false);

    /// <summary>The decoder graph with its projections and lm_head as MatMulNBits (or, <paramref name="dequantized"/>,
    /// as float products of the rounded weights).</summary>
    public static OnnxGraph Graph(LlamaConfig config, ILlamaWeights weights, AttentionKernel attention, int bits, int blockSize, bool dequantized = false, int accuracyLevel = Int4Weights.Int8Compute) =>
        Int4Weights.Quantize(ModelBuilder.Graph(config, weights, OnnxDataType.Float, attention), dequantized, bits, blockSize, accuracyLevel);
}

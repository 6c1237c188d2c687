using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>Writes a quantized variant (MatMulNBits projections: <c>onnx/model_q4.onnx</c> at the default 4 bits in
/// blocks of 32) next to a model's full-precision file, as transformers.js / onnx-community folders carry one.</summary>
internal static class QuantizedVariant
{
    /// <param name="dequantized">Write the rounded weights back as float MatMuls instead (the quantized graph's
    /// exact reference).</param>
    /// <param name="bits">4 or 8 bits per weight.</param>
    /// <param name="blockSize">Weights per scale (a power of two from 16 to 256; 32 or 128 are the usual choices).</param>
    public static void Write(LlamaConfig config, ILlamaWeights weights, string modelPath, bool dequantized = false, AttentionKernel attention = AttentionKernel.GroupQuery, int bits = 4, int blockSize = Int4Weights.BlockSize) =>
        ModelBuilder.WriteGraph(Graph(config, weights, attention, bits, blockSize, dequantized), modelPath, externalData: false);

    /// <summary>The decoder graph with its projections as MatMulNBits (or, <paramref name="dequantized"/>, as float
    /// MatMuls of the rounded weights).</summary>
    public static OnnxGraph Graph(LlamaConfig config, ILlamaWeights weights, AttentionKernel attention, int bits, int blockSize, bool dequantized = false) =>
        Int4Weights.Quantize(ModelBuilder.Graph(config, weights, OnnxDataType.Float, attention), dequantized, bits, blockSize);
}

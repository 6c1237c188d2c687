using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>Writes a 4-bit variant (<c>onnx/model_q4.onnx</c>, MatMulNBits projections) next to a model's
/// full-precision file, as transformers.js / onnx-community folders carry one.</summary>
internal static class QuantizedVariant
{
    /// <param name="dequantized">Write the rounded weights back as float MatMuls instead (the quantized graph's
    /// exact reference).</param>
    public static void Write(LlamaConfig config, ILlamaWeights weights, string modelPath, bool dequantized = false, AttentionKernel attention = AttentionKernel.GroupQuery)
    {
        var graph = Int4Weights.Quantize(LlamaGraphBuilder.Build(config, weights, OnnxDataType.Float, attention), dequantized);
        OnnxModelWriter.Write(graph, modelPath, DecoderGraph.Opset, externalDataFile: null);
    }
}

namespace Distil.Engine.Building;

/// <summary>How a built graph computes attention.</summary>
public enum AttentionKernel
{
    /// <summary>
    /// ONNX Runtime's com.microsoft GroupQueryAttention, given each row's own length (sum of its mask) instead of a
    /// padded mask: scores, softmax and the weighted sum of values reduce over that row's tokens only, so a row's
    /// arithmetic does not depend on the rows batched with it. The scheduler lays such caches out left-aligned.
    /// Llama-shaped graphs are fused around it (rotary inside the op, one packed q/k/v projection, ONNX Runtime's
    /// SimplifiedLayerNormalization and SkipSimplifiedLayerNormalization), so a step runs a dozen kernels per layer.
    /// </summary>
    GroupQuery,

    /// <summary>Standard opset-17 operators (MatMul, Softmax over the padded width with a mask), runnable by any
    /// ONNX runtime; batched rows share the padded width, so their rounding depends on their companions.</summary>
    Standard,

    /// <summary>GroupQueryAttention with everything around it in standard operators (rotary from position_ids,
    /// separate q/k/v projections, RMSNorm as ReduceMean/Sqrt/Mul): the graph before fusion, kept to measure and
    /// check the fused one against.</summary>
    GroupQueryUnfused,
}

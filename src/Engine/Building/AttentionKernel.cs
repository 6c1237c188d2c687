namespace Distil.Engine.Building;

/// <summary>How a built graph computes attention.</summary>
public enum AttentionKernel
{
    /// <summary>
    /// ONNX Runtime's com.microsoft GroupQueryAttention, given each row's own length (sum of its mask) instead of a
    /// padded mask: scores, softmax and the weighted sum of values reduce over that row's tokens only, so a row's
    /// arithmetic does not depend on the rows batched with it. The scheduler lays such caches out left-aligned.
    /// </summary>
    GroupQuery,

    /// <summary>Standard opset-17 operators (MatMul, Softmax over the padded width with a mask), runnable by any
    /// ONNX runtime; batched rows share the padded width, so their rounding depends on their companions.</summary>
    Standard,
}

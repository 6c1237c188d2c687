namespace Distil.Engine.Onnx;

/// <summary>
/// The optional input of Distil builder graphs that limits the logits to one position per row: int64 [batch], the
/// column of this call's sequence whose logits each row needs, giving logits [batch, 1, vocab]. It is an overridable
/// initializer (a graph input with an empty initializer of the same name): left alone, the graph computes every
/// position as the Optimum interface promises, and ONNX Runtime lists it apart from the inputs
/// (<c>OverridableInitializerMetadata</c>, not <c>InputMetadata</c>), so callers that never feed it see no change.
/// </summary>
public static class LogitsSelection
{
    public const string Input = "logits_positions";
}

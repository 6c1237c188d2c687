using Distil.Engine.Model;

namespace Distil.Engine.Onnx;

/// <summary>
/// Checks a folder's config against the graph it describes. The graph decides how the model runs; a config
/// field that contradicts it (a wrong layer count, a hidden size the embedding table does not have, a context of
/// zero) means the folder is inconsistent, and is reported with the file and field rather than run regardless.
/// </summary>
internal static class GraphConfigCheck
{
    public static void Validate(DecoderConfig config, KvLayout layout, OnnxFileSummary summary)
    {
        Same(config.Layers, layout.Layers, "layers (past key/value inputs)");
        Same(config.KvHeads, layout.KvHeads, "KV heads (dimension 1 of the past key/value inputs)");
        Same(config.VocabSize, layout.VocabSize, "vocabulary (last dimension of the logits)");
        if (config.HeadDim is { } headDim)
        {
            Same(headDim, layout.HeadDim, "head size (last dimension of the past key/value inputs)");
        }
        else if (config is { HiddenSize: { } hidden, Heads: { } heads } && (hidden.Value % heads.Value != 0 || hidden.Value / heads.Value != layout.HeadDim))
        {
            throw new ModelFormatException(hidden.File, $"field '{hidden.Field}' is {hidden.Value}, which over {heads.Value} heads ('{heads.Field}') does not give the graph's head size {layout.HeadDim}");
        }

        if (config is { Heads: { } h, KvHeads: { } kv } && h.Value % kv.Value != 0)
        {
            throw new ModelFormatException(kv.File, $"field '{kv.Field}' ({kv.Value}) must divide '{h.Field}' ({h.Value})");
        }

        if (config.HiddenSize is { } hiddenSize && EmbeddingWidth(summary, layout.VocabSize) is { } width && width != hiddenSize.Value)
        {
            throw new ModelFormatException(hiddenSize.File, $"field '{hiddenSize.Field}' is {hiddenSize.Value} but the graph's embedding table is {width} wide");
        }
    }

    private static void Same(DecoderConfig.Setting? stated, int inGraph, string what)
    {
        if (stated is not null && inGraph > 0 && stated.Value != inGraph)
        {
            throw new ModelFormatException(stated.File, $"field '{stated.Field}' is {stated.Value} but the ONNX graph has {inGraph} {what}");
        }
    }

    /// <summary>The width of a [vocab, hidden] float weight (the token embedding, or a tied head), when the
    /// graph stores one unquantized; null when it does not (quantized embeddings, symbolic vocabulary).</summary>
    private static int? EmbeddingWidth(OnnxFileSummary summary, int vocab)
    {
        // A GatherBlockQuantized table's float scales are [vocab, blocks]: not a width to check.
        if (vocab <= 0 || summary.Uses("GatherBlockQuantized"))
        {
            return null;
        }

        var widths = summary.Weights
            .Where(w => w.Dims.Length == 2 && w.Dims[0] == vocab && w.DataType is 1 or 10 or 16)
            .Select(w => (int)w.Dims[1])
            .Distinct()
            .ToList();
        return widths.Count == 1 ? widths[0] : null;
    }
}

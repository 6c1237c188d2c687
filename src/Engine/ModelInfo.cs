using System.Globalization;
using Distil.Engine.Model;
using Distil.Engine.Onnx;

namespace Distil.Engine;

/// <summary>
/// What a model folder costs in memory, read from its files without loading it: weights as stored, and the KV
/// cache per token, so the largest batch that fits a context in a memory budget is known before a session is
/// opened. Activations and ONNX Runtime's own buffers are not counted; leave headroom for them.
/// </summary>
public sealed record ModelInfo
{
    public required string ModelFile { get; init; }

    /// <summary>architectures[0] of config.json, else its model_type, else genai_config.json's model.type.</summary>
    public required string Architecture { get; init; }

    /// <summary>Model weights: float elements, and the weights MatMulNBits or GatherBlockQuantized unpack from their
    /// uint8 blocks (their scales and zero points are not counted).</summary>
    public required long Parameters { get; init; }

    /// <summary>The storage type holding most weight bytes: float32, float16, bfloat16, int4 or int8.</summary>
    public required string WeightType { get; init; }

    public required long WeightBytes { get; init; }

    public required string KvType { get; init; }

    public required long KvBytesPerToken { get; init; }

    public required int Layers { get; init; }

    public required int KvHeads { get; init; }

    public required int HeadDim { get; init; }

    public required int ContextLength { get; init; }

    public static ModelInfo Read(string folder, string? variant = null)
    {
        var config = DecoderConfig.Load(folder);
        var file = ModelVariant.Find(folder, variant, config);
        var summary = OnnxFileSummary.Read(file);
        var (layers, kvHeads, headDim, kvElement) = KvLayout.Shape(summary, config);
        // Quantized weights (with their scales) are grouped by their bit width rather than their uint8 storage type,
        // so a 4-bit file reads int4 and an 8-bit one int8.
        var byType = summary.Weights
            .GroupBy(w => summary.QuantizedWeights.TryGetValue(w.Name, out var quantized) ? $"int{quantized.Bits}" : StorageType(w.DataType))
            .Select(g => (Type: g.Key, Bytes: g.Sum(w => w.Bytes))).OrderByDescending(t => t.Bytes).ToList();
        return new ModelInfo
        {
            ModelFile = file,
            Architecture = config.Architecture ?? config.ModelType ?? "unknown",
            Parameters = summary.Weights.Sum(summary.LogicalElements),
            WeightType = byType.Count == 0 ? "none" : byType[0].Type,
            WeightBytes = summary.WeightBytes,
            KvType = kvElement == 2 ? "float16" : "float32",
            KvBytesPerToken = 2L * layers * kvHeads * headDim * kvElement,
            Layers = layers,
            KvHeads = kvHeads,
            HeadDim = headDim,
            ContextLength = config.ContextLength,
        };
    }

    private static string StorageType(int onnxType) => onnxType switch
    {
        1 => "float32",
        10 => "float16",
        16 => "bfloat16",
        2 or 3 => "int8",
        var other => $"onnx type {other}",
    };

    /// <summary>Weights plus <paramref name="batch"/> caches of <paramref name="context"/> tokens.</summary>
    public long BytesFor(int batch, int context) => WeightBytes + ((long)batch * context * KvBytesPerToken);

    /// <summary>The most sequences of <paramref name="context"/> tokens whose caches fit beside the weights in
    /// <paramref name="memoryBytes"/>; 0 when not even one does.</summary>
    public int LargestBatch(int context, long memoryBytes) =>
        memoryBytes <= WeightBytes ? 0 : (int)Math.Min(int.MaxValue, (memoryBytes - WeightBytes) / ((long)context * KvBytesPerToken));

    /// <summary>Parses "16GiB", "16 GB", "512MiB", "2e9" or a plain byte count.</summary>
    public static long ParseBytes(string text)
    {
        var trimmed = text.Trim();
        var units = new (string Suffix, double Factor)[] { ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1) };
        foreach (var (suffix, factor) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(trimmed[..^suffix.Length].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                return (long)(value * factor);
            }
        }

        return double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
            ? (long)bytes
            : throw new FormatException($"'{text}' is not a memory size (examples: 16GiB, 512MB, 2000000000)");
    }
}

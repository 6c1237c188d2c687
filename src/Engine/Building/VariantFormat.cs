using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// A lower-precision copy of a model the builder writes beside <c>onnx/model.onnx</c>, under its transformers.js
/// name: fp16 (<c>model_fp16.onnx</c>), 4-bit (<c>model_q4.onnx</c>) or 8-bit (<c>model_quantized.onnx</c>)
/// MatMulNBits in blocks of <see cref="BlockSize"/>.
/// </summary>
/// <param name="Bits">16 for fp16 (weights, activations and KV cache), 4 or 8 for MatMulNBits projections.</param>
/// <param name="BlockSize">Weights per scale for 4 and 8 bits; 0 for fp16.</param>
public sealed record VariantFormat(int Bits, int BlockSize)
{
    /// <summary>MatMulNBits <c>accuracy_level</c> 4 (true, every name in <see cref="Options"/>): ONNX Runtime's CPU
    /// kernel rounds the activations to int8 per block and multiplies in int8 (VNNI). false: accuracy_level 1, fp32
    /// activations — exact for the rounded weights, but for 8 bits MLAS then dequantizes the whole matrix on every
    /// call; kept for measuring the difference, not offered by the CLI.</summary>
    public bool Int8Compute { get; init; } = true;

    /// <summary>The names <c>distil models build --quantize</c> accepts.</summary>
    public static IReadOnlyDictionary<string, VariantFormat> Options { get; } = new Dictionary<string, VariantFormat>(StringComparer.Ordinal)
    {
        ["fp16"] = new(16, 0),
        ["q4"] = new(4, 32),
        ["q4-b128"] = new(4, 128),
        ["q8"] = new(8, 32),
        ["q8-b128"] = new(8, 128),
    };

    /// <summary>The transformers.js dtype the file is loaded as (<c>"variant"</c> / <c>--variant</c>).</summary>
    public string Variant => Bits switch { 16 => "fp16", 4 => "q4", _ => "quantized" };

    /// <summary>The file name under <c>onnx/</c>.</summary>
    public string FileName => ModelVariant.Files[Variant];

    public override string ToString() => Bits == 16 ? "fp16" : $"{Bits}-bit (blocks of {BlockSize}{(Int8Compute ? "" : ", fp32 compute")})";
}

using Distil.Engine.Model;

namespace Distil.Engine;

/// <summary>Opens model folders (Hugging Face / Optimum ONNX layout) as chat clients.</summary>
public static class LocalModel
{
    /// <summary>
    /// Loads <paramref name="folder"/> (config.json, generation_config.json, tokenizer files, onnx/model.onnx) and
    /// starts its scheduler. Throws <see cref="ModelFormatException"/> or <see cref="Text.Tokenizers.TokenizerFormatException"/>
    /// naming the file and field when the folder is unusable, <see cref="NotSupportedException"/> when a CUDA
    /// device is asked of a CPU build.
    /// </summary>
    public static LocalChatClient Load(string folder, LocalModelOptions? options = null) =>
        LocalChatClient.Open(folder, options ?? new LocalModelOptions());

    /// <summary>
    /// True when batched decoding gives every request of this folder's graph exactly the tokens it gets alone: the
    /// graph attends through GroupQueryAttention (each row over its own tokens, caches left-aligned) with float
    /// weights, on the CPU, where every other reduction a row goes through has fixed operands and order. CUDA
    /// attention kernels pick their split of the work by batch size, and 4-bit MatMulNBits kernels by row count,
    /// so neither is claimed. Reads the graph's operators only (no session).
    /// </summary>
    public static bool DecodesIndependentlyOfBatching(string folder, string? device = null, string? variant = null)
    {
        var config = DecoderConfig.Load(folder);
        var summary = Onnx.OnnxFileSummary.Read(Onnx.ModelVariant.Find(folder, variant, config));
        return !Onnx.ExecutionDevice.Parse(device).IsCuda && summary.Uses("GroupQueryAttention") && !summary.Uses("MatMulNBits");
    }
}

namespace Distil.Engine;

/// <summary>Opens model folders (Hugging Face / Optimum ONNX layout) as chat clients.</summary>
public static class LocalModel
{
    /// <summary>
    /// Loads <paramref name="folder"/> (config.json, generation_config.json, tokenizer files, onnx/model.onnx) and
    /// starts its scheduler. Throws <see cref="ModelFormatException"/> or <see cref="Text.TokenizerFormatException"/>
    /// naming the file and field when the folder is unusable, <see cref="NotSupportedException"/> when a CUDA
    /// device is asked of a CPU build.
    /// </summary>
    public static LocalChatClient Load(string folder, LocalModelOptions? options = null) =>
        LocalChatClient.Open(folder, options ?? new LocalModelOptions());
}

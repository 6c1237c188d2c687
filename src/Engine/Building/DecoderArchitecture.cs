namespace Distil.Engine.Building;

/// <summary>The decoder families the builder writes as ONNX graphs.</summary>
public enum DecoderArchitecture
{
    /// <summary>LlamaForCausalLM (Llama 2/3.x, Falcon3, SmolLM and other Llama-shaped checkpoints).</summary>
    Llama,

    /// <summary>Qwen2ForCausalLM (Qwen2, Qwen2.5): Llama with biases on the q/k/v projections.</summary>
    Qwen2,

    /// <summary>Qwen3ForCausalLM: Llama with a per-head RMSNorm on queries and keys before rope.</summary>
    Qwen3,

    /// <summary>FalconForCausalLM (model_type falcon; RWForCausalLM / RefinedWeb / RefinedWebModel before it).</summary>
    Falcon,
}

/// <summary>How config.json names each architecture.</summary>
public static class DecoderArchitectures
{
    public static string ClassName(this DecoderArchitecture architecture) => architecture switch
    {
        DecoderArchitecture.Qwen2 => "Qwen2ForCausalLM",
        DecoderArchitecture.Qwen3 => "Qwen3ForCausalLM",
        DecoderArchitecture.Falcon => "FalconForCausalLM",
        _ => "LlamaForCausalLM",
    };

    public static string ModelType(this DecoderArchitecture architecture) => architecture switch
    {
        DecoderArchitecture.Qwen2 => "qwen2",
        DecoderArchitecture.Qwen3 => "qwen3",
        DecoderArchitecture.Falcon => "falcon",
        _ => "llama",
    };

    /// <summary>The architecture named by <c>architectures[0]</c>, or by <c>model_type</c> when that list is absent.</summary>
    public static DecoderArchitecture? FromConfig(string? className, string? modelType) => className switch
    {
        "LlamaForCausalLM" => DecoderArchitecture.Llama,
        "Qwen2ForCausalLM" => DecoderArchitecture.Qwen2,
        "Qwen3ForCausalLM" => DecoderArchitecture.Qwen3,
        "FalconForCausalLM" or "RWForCausalLM" => DecoderArchitecture.Falcon,
        null => modelType switch
        {
            "llama" => DecoderArchitecture.Llama,
            "qwen2" => DecoderArchitecture.Qwen2,
            "qwen3" => DecoderArchitecture.Qwen3,
            "falcon" or "RefinedWeb" or "RefinedWebModel" => DecoderArchitecture.Falcon,
            _ => null,
        },
        _ => null,
    };
}

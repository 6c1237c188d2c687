namespace Distil.Engine.Building;

/// <summary>Weights of a Llama decoder by their Hugging Face names (<c>model.layers.0.self_attn.q_proj.weight</c>, …),
/// in the Hugging Face layout ([out_features, in_features] for projections), read one tensor at a time.</summary>
public interface ILlamaWeights
{
    /// <summary>Where the weights come from, for error messages (the checkpoint's file or index).</summary>
    string Source { get; }

    bool Contains(string name);

    /// <summary>The tensor as fp32 (bf16/fp16 are widened exactly), with its shape.</summary>
    float[] Read(string name, out long[] shape);
}

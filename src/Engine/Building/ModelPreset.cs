namespace Distil.Engine.Building;

/// <summary>Named shapes for models built from seeded random weights.</summary>
public static class ModelPreset
{
    public static IReadOnlyList<string> Names { get; } = ["tiny", "small", "8b-shape", "tiny-falcon", "tiny-falcon-40b-style", "tiny-qwen2", "tiny-qwen3", "tiny-reward"];

    /// <summary>The config and storage type of a preset; the tiny ones are fp32 and small enough for tests on two
    /// cores (tiny: Llama 3.1-shaped; tiny-falcon: Falcon-7B-shaped, multi-query, one LayerNorm, parallel attention;
    /// tiny-falcon-40b-style: the new decoder architecture with ln_attn/ln_mlp and grouped KV; tiny-qwen2: q/k/v
    /// biases; tiny-qwen3: per-head q/k norms, head_dim·heads ≠ hidden); small has SmolLM2-135M's layer shapes (for
    /// benchmarks on CPU, where tiny is all LM head and per-step overhead); 8b-shape has Llama 3.1 8B's
    /// dimensions (fp16, external data) for GPU benchmarks only; tiny-reward is tiny as a reward model
    /// (LlamaForSequenceClassification, one label, no KV cache).</summary>
    /// <remarks>The vocabulary is that of the tokenizer written with the preset (engine-text's Llama-3-style one).</remarks>
    public static (LlamaConfig Config, bool Float16) Get(string name) => Get(name, PresetTokenizer.VocabularySize);

    /// <summary>The preset's shape around a vocabulary of <paramref name="vocabularySize"/> ids (a copied tokenizer's).</summary>
    internal static (LlamaConfig Config, bool Float16) Get(string name, int vocabularySize) => name switch
    {
        "tiny-reward" => (Get("tiny", vocabularySize).Config with { NumLabels = 1 }, false),
        "tiny" => (new LlamaConfig
        {
            HiddenSize = 64,
            IntermediateSize = 192,
            NumLayers = 2,
            NumHeads = 4,
            NumKvHeads = 2,
            HeadDim = 16,
            VocabSize = vocabularySize,
            MaxPositionEmbeddings = 4096,
            RmsNormEps = 1e-5,
            RopeTheta = 500000,
            RopeScaling = new RopeScaling(8, 1, 4, 8192),
            TieWordEmbeddings = false,
        }, false),
        "tiny-falcon" or "tiny-falcon-40b-style" => (new LlamaConfig
        {
            Architecture = DecoderArchitecture.Falcon,
            Falcon = name == "tiny-falcon"
                ? new FalconLayout(NewDecoderArchitecture: false, ParallelAttention: true, MultiQuery: true, Bias: false, TwoLayerNorms: false)
                : new FalconLayout(NewDecoderArchitecture: true, ParallelAttention: true, MultiQuery: false, Bias: false, TwoLayerNorms: true),
            HiddenSize = 64,
            IntermediateSize = 256,
            NumLayers = 2,
            NumHeads = 4,
            NumKvHeads = name == "tiny-falcon" ? 1 : 2,
            HeadDim = 16,
            VocabSize = vocabularySize,
            MaxPositionEmbeddings = 2048,
            RmsNormEps = 1e-5,
            RopeTheta = 10000,
            TieWordEmbeddings = true,
        }, false),
        "tiny-qwen2" or "tiny-qwen3" => (new LlamaConfig
        {
            Architecture = name == "tiny-qwen2" ? DecoderArchitecture.Qwen2 : DecoderArchitecture.Qwen3,
            QkvBias = name == "tiny-qwen2",
            QkNorm = name == "tiny-qwen3",
            HiddenSize = 64,
            IntermediateSize = 192,
            NumLayers = 2,
            NumHeads = 4,
            NumKvHeads = 2,
            HeadDim = name == "tiny-qwen2" ? 16 : 32,
            VocabSize = vocabularySize,
            MaxPositionEmbeddings = 4096,
            RmsNormEps = 1e-6,
            RopeTheta = 1000000,
            TieWordEmbeddings = false,
        }, false),
        // SmolLM2-135M's layers (hidden 576, 30 layers, 9 heads / 3 KV heads, tied head) around the preset
        // tokenizer's vocabulary (100,512 ids rather than 49,152: +29.6M embedding parameters).
        "small" => (new LlamaConfig
        {
            HiddenSize = 576,
            IntermediateSize = 1536,
            NumLayers = 30,
            NumHeads = 9,
            NumKvHeads = 3,
            HeadDim = 64,
            VocabSize = vocabularySize,
            MaxPositionEmbeddings = 8192,
            RmsNormEps = 1e-5,
            RopeTheta = 100000,
            TieWordEmbeddings = true,
        }, false),
        "8b-shape" => (new LlamaConfig
        {
            HiddenSize = 4096,
            IntermediateSize = 14336,
            NumLayers = 32,
            NumHeads = 32,
            NumKvHeads = 8,
            HeadDim = 128,
            VocabSize = vocabularySize,
            MaxPositionEmbeddings = 131072,
            RmsNormEps = 1e-5,
            RopeTheta = 500000,
            RopeScaling = new RopeScaling(8, 1, 4, 8192),
            TieWordEmbeddings = false,
            TorchDtype = "float16",
        }, true),
        _ => throw new ArgumentException($"unknown preset '{name}'; choose one of: {string.Join(", ", Names)}", nameof(name)),
    };
}

namespace Distil.Engine.Building;

/// <summary>Named shapes for models built from seeded random weights.</summary>
public static class ModelPreset
{
    public static IReadOnlyList<string> Names { get; } = ["tiny", "8b-shape"];

    /// <summary>The config and storage type of a preset; tiny is fp32 and small enough for tests on two cores,
    /// 8b-shape has Llama 3.1 8B's dimensions (fp16, external data) for GPU benchmarks only.</summary>
    /// <remarks>The vocabulary is that of the tokenizer written with the preset (engine-text's Llama-3-style one).</remarks>
    public static (LlamaConfig Config, bool Float16) Get(string name) => Get(name, PresetTokenizer.VocabularySize);

    /// <summary>The preset's shape around a vocabulary of <paramref name="vocabularySize"/> ids (a copied tokenizer's).</summary>
    internal static (LlamaConfig Config, bool Float16) Get(string name, int vocabularySize) => name switch
    {
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

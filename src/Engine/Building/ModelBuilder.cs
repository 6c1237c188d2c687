using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine.Onnx;

namespace Distil.Engine.Building;

/// <summary>
/// Writes a model folder in the Hugging Face / Optimum layout: <c>config.json</c>, <c>generation_config.json</c>,
/// tokenizer files and <c>onnx/model.onnx</c> (plus <c>onnx/model.onnx_data</c> when the weights are large),
/// from a safetensors checkpoint or from seeded random weights.
/// </summary>
public static class ModelBuilder
{
    /// <summary>Above this many bytes of weights the tensors go to an external data file (protobuf's limit is 2 GB).</summary>
    private const long InlineLimitBytes = 1L << 30;

    /// <summary>
    /// Builds a preset from seeded random weights; the same seed gives byte-identical files. With
    /// <paramref name="tokenizerFolder"/>, that folder's tokenizer files and chat template are copied and the
    /// vocabulary size and begin/end ids come from them, so a real tokenizer can be exercised without real weights.
    /// </summary>
    /// <param name="variant">Also write this lower-precision copy of the same weights (fp16, or MatMulNBits at 4 or
    /// 8 bits) under its transformers.js name.</param>
    public static void BuildPreset(string preset, ulong seed, string outputFolder, IProgress<string>? progress = null, string? tokenizerFolder = null, AttentionKernel attention = AttentionKernel.GroupQuery, VariantFormat? variant = null)
    {
        var tokenizer = tokenizerFolder is null ? PresetTokenizer.Write(outputFolder) : PresetTokenizer.CopyFrom(tokenizerFolder, outputFolder);
        var (config, float16) = ModelPreset.Get(preset, tokenizer.VocabularySize);
        config = config with { BosTokenId = tokenizer.BosTokenId, EosTokenIds = tokenizer.EosTokenIds };
        if (config.ClassifiesSequences)
        {
            config = config with { PadTokenId = PresetTokenizer.NamePadding(outputFolder) };
        }

        Build(config, new RandomLlamaWeights(config, seed), float16, outputFolder, externalData: null, progress, attention);
        if (variant is not null)
        {
            progress?.Report($"writing the {variant} variant");
            WriteVariant(config, new RandomLlamaWeights(config, seed), outputFolder, variant, attention);
        }
    }

    /// <summary>Writes <paramref name="format"/>'s copy of the weights as <c>onnx/{format.FileName}</c>. The fp16 file
    /// is the whole graph in fp16 (fp16 KV cache, fp32 logits), as transformers.js fp16 exports are.</summary>
    public static void WriteVariant(LlamaConfig config, ILlamaWeights weights, string outputFolder, VariantFormat format, AttentionKernel attention = AttentionKernel.GroupQuery)
    {
        Directory.CreateDirectory(Path.Combine(outputFolder, "onnx"));
        var graph = format.Bits == 16
            ? Graph(config, weights, OnnxDataType.Float16, attention)
            : QuantizedVariant.Graph(config, weights, attention, format.Bits, format.BlockSize, accuracyLevel: format.Int8Compute ? Int4Weights.Int8Compute : Int4Weights.Fp32Compute);
        WriteGraph(graph, Path.Combine(outputFolder, "onnx", format.FileName), externalData: null);
    }

    /// <summary>The decoder graph of <paramref name="config"/>'s architecture over <paramref name="weights"/>.</summary>
    internal static OnnxGraph Graph(LlamaConfig config, ILlamaWeights weights, OnnxDataType dtype, AttentionKernel attention) =>
        config.Architecture == DecoderArchitecture.Falcon ? FalconGraphBuilder.Build(config, weights, dtype, attention) : LlamaGraphBuilder.Build(config, weights, dtype, attention);

    /// <summary>Converts a Hugging Face checkpoint folder (config.json + *.safetensors); tokenizer and generation
    /// config files are copied as they are.</summary>
    public static void BuildFromCheckpoint(string checkpointFolder, string outputFolder, bool float16 = false, IProgress<string>? progress = null, AttentionKernel attention = AttentionKernel.GroupQuery)
    {
        var configPath = Path.Combine(checkpointFolder, "config.json");
        var config = LlamaConfig.Load(configPath);
        var weights = SafetensorsCheckpoint.Open(checkpointFolder);
        Directory.CreateDirectory(outputFolder);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.model" })
        {
            var source = Path.Combine(checkpointFolder, file);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(outputFolder, file), overwrite: true);
            }
        }

        Build(config with { TorchDtype = float16 ? "float16" : "float32" }, weights, float16, outputFolder, externalData: null, progress, attention);
    }

    /// <param name="externalData">true/false forces external data on or off; null decides by size.</param>
    public static void Build(LlamaConfig config, ILlamaWeights weights, bool float16, string outputFolder, bool? externalData = null, IProgress<string>? progress = null, AttentionKernel attention = AttentionKernel.GroupQuery)
    {
        Directory.CreateDirectory(Path.Combine(outputFolder, "onnx"));
        var dtype = float16 ? OnnxDataType.Float16 : OnnxDataType.Float;
        config = config with { TorchDtype = float16 ? "float16" : "float32" };
        WriteJson(Path.Combine(outputFolder, "config.json"), config.ToJson());
        var generationConfig = Path.Combine(outputFolder, "generation_config.json");
        if (!File.Exists(generationConfig) && !config.ClassifiesSequences)
        {
            var generation = new JsonObject { ["_from_model_config"] = true };
            if (config.BosTokenId is { } bos)
            {
                generation["bos_token_id"] = bos;
            }

            generation["eos_token_id"] = new JsonArray(config.EosTokenIds.Select(id => (JsonNode?)id).ToArray());
            WriteJson(generationConfig, generation);
        }

        progress?.Report("building graph");
        var graph = Graph(config, weights, dtype, attention);
        var bytes = graph.Initializers.Sum(i => i.ByteLength);
        var external = externalData ?? bytes > InlineLimitBytes;
        progress?.Report($"writing {bytes / (1 << 20)} MiB of weights{(external ? " (external data)" : "")}");
        WriteGraph(graph, Path.Combine(outputFolder, "onnx", "model.onnx"), external);

        if (!config.ClassifiesSequences)
        {
            // ONNX Runtime GenAI generates text; a classifier is not something it can open.
            GenAiConfigFile.Write(outputFolder, config, "onnx/model.onnx");
        }
    }

    /// <param name="externalData">true/false forces <c>{file}_data</c> on or off; null decides by size.</param>
    internal static void WriteGraph(OnnxGraph graph, string modelPath, bool? externalData)
    {
        var external = externalData ?? graph.Initializers.Sum(i => i.ByteLength) > InlineLimitBytes;
        OnnxModelWriter.Write(graph, modelPath, DecoderGraph.Opset, external ? Path.GetFileName(modelPath) + "_data" : null);
        if (!external && File.Exists(modelPath + "_data"))
        {
            File.Delete(modelPath + "_data");
        }
    }

    private static void WriteJson(string path, JsonNode node) =>
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}

using System.Text.Json.Nodes;
using Distil.Engine.Building;
using Distil.Engine.Model;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;

namespace Distil.Engine.Tests;

/// <summary>
/// Folders load by their graph, whatever config.json calls the architecture, in the three layouts in use:
/// Optimum (<c>onnx/model.onnx</c>), transformers.js / onnx-community (precision variants beside it) and
/// ONNX Runtime GenAI model-builder output (<c>genai_config.json</c>, no config.json).
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class ModelLayoutTests(TinyModels models)
{
    private static readonly string[] Prompts = ["Hello", "Write a haiku about autumn leaves.", "What is 2 + 2?"];

    /// <summary>Model A's own greedy ids in its Optimum layout, computed once: what every relabelled copy must give.</summary>
    private static Task<List<IReadOnlyList<int>>>? _optimumIds;

    public static TheoryData<string, string> Architectures => new()
    {
        { "Qwen2ForCausalLM", "qwen2" },
        { "MistralForCausalLM", "mistral" },
        { "Phi3ForCausalLM", "phi3" },
        { "GemmaForCausalLM", "gemma" },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public async Task A_graph_loads_whatever_model_type_its_config_names(string architecture, string modelType)
    {
        var folder = EditConfig(models.CopyOfA(modelType), json =>
        {
            json["architectures"] = new JsonArray(architecture);
            json["model_type"] = modelType;
            json["attention_bias"] = true; // a Qwen2 trait; the graph, not the flag, decides how the model runs
        });
        Assert.Equal(await OptimumIds(), await GreedyIds(folder));
    }

    [Fact]
    public async Task Falcon_config_keys_are_understood()
    {
        var folder = EditConfig(models.CopyOfA("falcon"), json =>
        {
            json["architectures"] = new JsonArray("FalconForCausalLM");
            json["model_type"] = "falcon";
            foreach (var (from, to) in new[] { ("num_hidden_layers", "n_layer"), ("num_attention_heads", "n_head"), ("num_key_value_heads", "n_head_kv") })
            {
                json[to] = json[from]!.DeepClone();
                json.Remove(from);
            }
        });
        await using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = 1 });
        Assert.Equal(2, client.Config.KvHeads!.Value);
        Assert.Equal("n_head_kv", client.Config.KvHeads.Field);
        Assert.Equal(await OptimumIds(), await GreedyIds(folder));
    }

    [Theory]
    [InlineData("hidden_size", 65)]
    [InlineData("bos_token_id", -5)]
    [InlineData("max_position_embeddings", 0)]
    [InlineData("num_attention_heads", 3)]
    public void Config_that_contradicts_the_graph_names_file_and_field(string field, int value)
    {
        var folder = EditConfig(models.CopyOfA("contradiction"), json =>
        {
            json[field] = value;
            if (field == "num_attention_heads")
            {
                json.Remove("head_dim"); // head size is then hidden_size / heads, which the graph contradicts
            }
        });
        var error = Assert.Throws<ModelFormatException>(() => LocalModel.Load(folder));
        Assert.Equal(Path.Combine(folder, "config.json"), error.File);
        Assert.Contains($"'{field}'", error.Message);
    }

    [Fact]
    public void A_graph_without_a_kv_cache_is_refused_naming_the_file()
    {
        var folder = models.CopyOfA("no-kv");
        var modelPath = Path.Combine(folder, "onnx", "model.onnx");
        var g = new GraphBuilder("no_cache");
        g.Graph.Inputs.Add(new OnnxValueInfo("input_ids", OnnxDataType.Int64, ["batch", "seq"]));
        g.Graph.Inputs.Add(new OnnxValueInfo("attention_mask", OnnxDataType.Int64, ["batch", "total"]));
        g.Identity(g.Op("Cast", ["input_ids"], new OnnxAttribute("to", Int: (long)OnnxDataType.Float)), "logits");
        g.Graph.Outputs.Add(new OnnxValueInfo("logits", OnnxDataType.Float, ["batch", "seq"]));
        OnnxModelWriter.Write(g.Graph, modelPath, 17, externalDataFile: null);
        var error = Assert.Throws<ModelFormatException>(() => LocalModel.Load(folder));
        Assert.Equal(modelPath, error.File);
        Assert.Contains("past_key_values.0.key", error.Message);
    }

    [Fact]
    public void Truncated_onnx_is_refused_naming_the_file()
    {
        var folder = models.CopyOfA("truncated");
        var modelPath = Path.Combine(folder, "onnx", "model.onnx");
        var bytes = File.ReadAllBytes(modelPath);
        File.WriteAllBytes(modelPath, bytes[..(bytes.Length * 2 / 3)]);
        var error = Assert.Throws<ModelFormatException>(() => LocalModel.Load(folder));
        Assert.Equal(modelPath, error.File);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void A_q4_variant_computes_exactly_its_dequantized_weights()
    {
        using var temp = new TempFolder();
        var folder = models.CopyOfA("onnx-community");
        var (config, _) = ModelPreset.Get("tiny");
        var weights = new RandomLlamaWeights(config, 1);
        QuantizedVariant.Write(config, weights, Path.Combine(folder, "onnx", "model_q4.onnx"), accuracyLevel: Int4Weights.Fp32Compute);
        var reference = models.CopyOfA("q4-reference");
        QuantizedVariant.Write(config, weights, Path.Combine(reference, "onnx", "model.onnx"), dequantized: true);

        using var q4 = OnnxCausalLM.Load(folder, ExecutionDevice.Cpu, threads: 1, variant: "q4");
        using var full = OnnxCausalLM.Load(folder, ExecutionDevice.Cpu, threads: 1);
        using var dequantized = OnnxCausalLM.Load(reference, ExecutionDevice.Cpu, threads: 1);
        Assert.EndsWith(Path.Combine("onnx", "model_q4.onnx"), q4.ModelFile);
        Assert.EndsWith(Path.Combine("onnx", "model.onnx"), full.ModelFile);
        Assert.True(q4.Summary.Uses("MatMulNBits"));
        Assert.True(q4.Summary.WeightBytes < full.Summary.WeightBytes);

        long[] prompt = [5, 17, 200, 3, 99, 42, 7];
        var (fromQ4, fromReference, fromFull) = (LastLogits(q4, prompt), LastLogits(dequantized, prompt), LastLogits(full, prompt));
        for (var v = 0; v < fromQ4.Length; v++)
        {
            Assert.True(Math.Abs(fromQ4[v] - fromReference[v]) <= 1e-4 + (1e-4 * Math.Abs(fromReference[v])), $"logit {v}: q4 {fromQ4[v]} vs dequantized {fromReference[v]}");
        }

        Assert.True(fromQ4.Zip(fromFull).Any(p => p.First != p.Second), "the q4 file is really a different model file");
    }

    [Theory]
    [InlineData(4, 32)]
    [InlineData(4, 128)] // K = 64 (hidden) is shorter than a block: the tail is padded at the zero point
    [InlineData(8, 32)]
    [InlineData(8, 128)]
    public void Each_quantized_layout_computes_exactly_its_dequantized_weights(int bits, int blockSize)
    {
        var (config, _) = ModelPreset.Get("tiny");
        var weights = new RandomLlamaWeights(config, 1);
        var folder = models.CopyOfA($"q{bits}-b{blockSize}");
        QuantizedVariant.Write(config, weights, Path.Combine(folder, "onnx", "model_q4.onnx"), bits: bits, blockSize: blockSize, accuracyLevel: Int4Weights.Fp32Compute);
        var reference = models.CopyOfA($"q{bits}-b{blockSize}-reference");
        QuantizedVariant.Write(config, weights, Path.Combine(reference, "onnx", "model.onnx"), dequantized: true, bits: bits, blockSize: blockSize);

        using var quantized = OnnxCausalLM.Load(folder, ExecutionDevice.Cpu, threads: 1, variant: "q4");
        using var dequantized = OnnxCausalLM.Load(reference, ExecutionDevice.Cpu, threads: 1);
        using var full = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        Assert.True(quantized.Summary.Uses("MatMulNBits"));
        long[] prompt = [5, 17, 200, 3, 99, 42, 7];
        var (fromQuantized, fromReference, fromFull) = (LastLogits(quantized, prompt), LastLogits(dequantized, prompt), LastLogits(full, prompt));
        var rounding = 0.0;
        for (var v = 0; v < fromQuantized.Length; v++)
        {
            Assert.True(Math.Abs(fromQuantized[v] - fromReference[v]) <= 1e-4 + (1e-4 * Math.Abs(fromReference[v])), $"logit {v}: quantized {fromQuantized[v]} vs dequantized {fromReference[v]}");
            rounding = Math.Max(rounding, Math.Abs(fromReference[v] - fromFull[v]));
        }

        Assert.True(rounding > 0, "the rounding changed the model");
    }

    [Fact]
    public void The_fp16_variant_computes_its_rounded_weights_in_half_precision()
    {
        var (config, _) = ModelPreset.Get("tiny");
        var weights = new RandomLlamaWeights(config, 1);
        var folder = models.CopyOfA("fp16");
        ModelBuilder.WriteVariant(config, weights, folder, VariantFormat.Options["fp16"]);
        var reference = models.CopyOfA("fp16-reference");
        ModelBuilder.Build(config, new HalfRoundedWeights(weights), float16: false, reference);

        using var fp16 = OnnxCausalLM.Load(folder, ExecutionDevice.Cpu, threads: 1, variant: "fp16");
        using var rounded = OnnxCausalLM.Load(reference, ExecutionDevice.Cpu, threads: 1);
        using var full = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        Assert.EndsWith(Path.Combine("onnx", "model_fp16.onnx"), fp16.ModelFile);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, fp16.Layout.KvType);
        Assert.All(fp16.Summary.Weights.Where(w => w.Dims.Length == 2), w => Assert.Equal((int)OnnxDataType.Float16, w.DataType));
        Assert.InRange(fp16.Summary.WeightBytes, full.Summary.WeightBytes * 0.45, full.Summary.WeightBytes * 0.55);

        long[] prompt = [5, 17, 200, 3, 99, 42, 7];
        var (fromFp16, fromRounded, fromFull) = (LastLogits(fp16, prompt), LastLogits(rounded, prompt), LastLogits(full, prompt));
        var worst = 0.0;
        var rounding = 0.0;
        for (var v = 0; v < fromFp16.Length; v++)
        {
            worst = Math.Max(worst, Math.Abs(fromFp16[v] - fromRounded[v]));
            rounding = Math.Max(rounding, Math.Abs(fromRounded[v] - fromFull[v]));
        }

        // fp16 activations (norm outputs, attention, the KV cache) keep about three decimal digits; logits here are O(1).
        Assert.True(worst < 1e-2, $"fp16 logits differ from the fp32 graph of the rounded weights by {worst}");
        Assert.Equal(Array.IndexOf(fromRounded, fromRounded.Max()), Array.IndexOf(fromFp16, fromFp16.Max()));
        Assert.True(rounding > 0, "the rounding changed the model");
    }

    [Fact]
    public async Task Onnx_community_folder_generates_with_the_chosen_variant()
    {
        var folder = models.CopyOfA("onnx-community-q4-only");
        var (config, _) = ModelPreset.Get("tiny");
        QuantizedVariant.Write(config, new RandomLlamaWeights(config, 1), Path.Combine(folder, "onnx", "model_q4.onnx"));
        File.Delete(Path.Combine(folder, "onnx", "model.onnx"));

        var missing = Assert.Throws<ModelFormatException>(() => LocalModel.Load(folder));
        Assert.Contains("q4", missing.Message);
        await using var client = LocalModel.Load(folder, new LocalModelOptions { Variant = "q4", Threads = 1 });
        var response = await client.GetResponseAsync(Chat.User("Hello"), Chat.Greedy(8));
        Assert.Equal(8, Chat.Tokens(response).Count);
        Assert.Throws<ArgumentException>(() => LocalModel.Load(folder, new LocalModelOptions { Variant = "q3" }));
    }

    [Fact]
    public async Task Model_builder_layout_without_config_json_loads_from_genai_config()
    {
        var folder = models.CopyOfA("genai");
        File.Delete(Path.Combine(folder, "config.json"));
        File.Move(Path.Combine(folder, "onnx", "model.onnx"), Path.Combine(folder, "model.onnx"));
        var genAiPath = Path.Combine(folder, "genai_config.json");
        var genAi = JsonNode.Parse(File.ReadAllText(genAiPath))!.AsObject();
        genAi["model"]!["decoder"]!["filename"] = "model.onnx";
        genAi["search"]!["past_present_share_buffer"] = true;
        File.WriteAllText(genAiPath, genAi.ToJsonString());

        await using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = 1 });
        Assert.Equal(genAiPath, client.Config.File);
        Assert.Equal(4096, client.Config.ContextLength);
        Assert.Equal(await OptimumIds(), await GreedyIds(folder));
    }

    [Fact]
    public async Task Group_query_attention_graph_with_symbolic_head_size_gives_each_row_its_own_answer_in_a_batch()
    {
        var folder = GqaFolder("gqa");
        await using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = 1, MaxBatchSize = 4, PrefixCacheBytes = 0 });
        Assert.Equal(GqaDecoder.HeadSize, client.Config.HeadDim!.Value);
        var alone = new List<IReadOnlyList<int>>();
        foreach (var prompt in Chat.Prompts.Take(4))
        {
            alone.Add(Chat.Tokens(await client.GetResponseAsync(Chat.User(prompt), Chat.Greedy(6))));
        }

        // Rows of different lengths submitted together.
        var together = await client.GetResponsesAsync(Chat.Prompts.Take(4).Select(p => new BatchChatRequest(Chat.User(p), Chat.Greedy(6))).ToList());
        Assert.Equal(alone, together.Select(r => Chat.Tokens(r.Response!)));
        Assert.Equal(4, alone.Select(ids => string.Join(",", ids)).Distinct().Count());
    }

    [Fact]
    public void Symbolic_head_size_without_a_config_value_is_refused_naming_the_field()
    {
        var folder = GqaFolder("gqa-no-head-size");
        var genAiPath = Path.Combine(folder, "genai_config.json");
        var genAi = JsonNode.Parse(File.ReadAllText(genAiPath))!.AsObject();
        var decoder = genAi["model"]!["decoder"]!.AsObject();
        decoder.Remove("head_size");
        decoder.Remove("hidden_size");
        File.WriteAllText(genAiPath, genAi.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => LocalModel.Load(folder));
        Assert.Contains("head_size", error.Message);
        Assert.EndsWith("model.onnx", error.File);
    }

    [Fact]
    public void Built_folders_carry_a_genai_config_that_pads_with_end_of_text()
    {
        var genAi = JsonNode.Parse(File.ReadAllText(Path.Combine(models.A, "genai_config.json")))!;
        var tokenizer = Distil.Engine.Text.ModelTokenizer.Load(models.A);
        Assert.Equal(tokenizer.TokenId("<|end_of_text|>"), genAi["model"]!["pad_token_id"]!.GetValue<int>());
        Assert.NotEqual(tokenizer.TokenId("<|eot_id|>"), genAi["model"]!["pad_token_id"]!.GetValue<int>());
        Assert.False(genAi["search"]!["past_present_share_buffer"]!.GetValue<bool>());
        Assert.True(File.Exists(Path.Combine(models.A, genAi["model"]!["decoder"]!["filename"]!.GetValue<string>())));
        var config = DecoderConfig.Load(models.A);
        Assert.Equal(config.HeadDim!.Value, genAi["model"]!["decoder"]!["head_size"]!.GetValue<int>());
        Assert.Equal(config.Layers!.Value, genAi["model"]!["decoder"]!["num_hidden_layers"]!.GetValue<int>());
    }

    [Fact]
    public void Info_reads_sizes_from_the_files_and_plans_a_batch()
    {
        var (config, _) = ModelPreset.Get("tiny");
        var info = ModelInfo.Read(models.A);
        var parameters = LlamaWeightNames.All(config).Sum(w => w.Shape.Aggregate(1L, (a, d) => a * d));
        Assert.Equal("LlamaForCausalLM", info.Architecture);
        Assert.Equal("float32", info.WeightType);
        Assert.InRange(info.Parameters, parameters, parameters + 100_000); // plus rotary and scalar constants
        Assert.InRange(info.WeightBytes, parameters * 4, (parameters * 4) + 400_000);
        Assert.Equal(2L * config.NumLayers * config.NumKvHeads * config.HeadDim * 4, info.KvBytesPerToken);
        var budget = info.WeightBytes + (3 * 1000 * info.KvBytesPerToken) + 1;
        Assert.Equal(3, info.LargestBatch(1000, budget));
        Assert.Equal(0, info.LargestBatch(1000, info.WeightBytes));
        Assert.Equal(16L << 30, ModelInfo.ParseBytes("16GiB"));
        Assert.Throws<FormatException>(() => ModelInfo.ParseBytes("lots"));
    }

    private string GqaFolder(string name)
    {
        var folder = models.CopyOfA(name);
        File.Delete(Path.Combine(folder, "config.json"));
        Directory.Delete(Path.Combine(folder, "onnx"), recursive: true);
        GqaDecoder.Write(Path.Combine(folder, "model.onnx"), PresetTokenizer.VocabularySize, seed: 7);
        var genAiPath = Path.Combine(folder, "genai_config.json");
        var genAi = JsonNode.Parse(File.ReadAllText(genAiPath))!.AsObject();
        var decoder = genAi["model"]!["decoder"]!.AsObject();
        genAi["model"]!["type"] = "qwen2";
        decoder["filename"] = "model.onnx";
        decoder["head_size"] = GqaDecoder.HeadSize;
        decoder["hidden_size"] = GqaDecoder.Hidden;
        decoder["num_attention_heads"] = GqaDecoder.Heads;
        decoder["num_key_value_heads"] = GqaDecoder.KvHeads;
        decoder["num_hidden_layers"] = 1;
        genAi["search"]!["past_present_share_buffer"] = true;
        File.WriteAllText(genAiPath, genAi.ToJsonString());
        return folder;
    }

    private static string EditConfig(string folder, Action<JsonObject> edit)
    {
        var path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
        return folder;
    }

    private Task<List<IReadOnlyList<int>>> OptimumIds() => _optimumIds ??= GreedyIds(models.A);

    private static async Task<List<IReadOnlyList<int>>> GreedyIds(string folder)
    {
        await using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = 1, MaxBatchSize = 3 });
        var results = await client.GetResponsesAsync(Prompts.Select(p => new BatchChatRequest(Chat.User(p), Chat.Greedy(8))).ToList());
        return results.Select(r => Chat.Tokens(r.Response!)).ToList();
    }

    internal static float[] LastLogits(OnnxCausalLM model, long[] prompt)
    {
        var logits = new float[model.VocabSize];
        using var cache = model.Forward(prompt, Enumerable.Repeat(1L, prompt.Length).ToArray(), Enumerable.Range(0, prompt.Length).Select(i => (long)i).ToArray(), 1, prompt.Length, model.EmptyCache(1), logits);
        return logits;
    }
}

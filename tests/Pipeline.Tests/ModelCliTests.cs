using System.Text.Json.Nodes;

namespace Distil.Pipeline.Tests;

/// <summary>distil models build / generate with the Falcon, Qwen2 and Qwen3 builders: a built folder generates;
/// a checkpoint the builder cannot express exits 2 naming the file and field.</summary>
public sealed class ModelCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Theory]
    [InlineData("tiny-falcon", "FalconForCausalLM")]
    [InlineData("tiny-qwen2", "Qwen2ForCausalLM")]
    [InlineData("tiny-qwen3", "Qwen3ForCausalLM")]
    public async Task Built_preset_generates_through_the_cli(string preset, string architecture)
    {
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "models", "build", "--preset", preset, "--out", preset);
        Assert.True(code == 0, stderr);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_ws.Root, preset, "config.json")))!;
        Assert.Equal(architecture, config["architectures"]![0]!.GetValue<string>());

        (code, var stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "generate", "--model", preset, "--prompt", "Name a famous painter.", "--temperature", "0", "--max-new-tokens", "8", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        var result = JsonNode.Parse(stdout)!;
        Assert.InRange(result["token_ids"]!.AsArray().Count, 1, 8);
    }

    [Theory]
    [InlineData("q4-b128", "q4")]
    [InlineData("q8", "quantized")]
    [InlineData("fp16", "fp16")]
    public async Task A_quantized_variant_is_built_beside_the_model_and_generates(string quantize, string variant)
    {
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "models", "build", "--preset", "tiny", "--quantize", quantize, "--out", "m");
        Assert.True(code == 0, stderr);
        (code, var stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "generate", "--model", "m", "--variant", variant, "--prompt", "Hi", "--temperature", "0", "--max-new-tokens", "4", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        Assert.InRange(JsonNode.Parse(stdout)!["token_ids"]!.AsArray().Count, 1, 4);
    }

    [Theory]
    [InlineData("alibi", "true")]
    [InlineData("new_decoder_architecture", "\"yes\"")]
    [InlineData("activation", "\"relu\"")]
    public async Task Unsupported_falcon_checkpoint_exits_2_naming_config_and_field(string field, string value)
    {
        _ws.Write("falcon-rw/config.json", $$"""
            { "architectures": ["RWForCausalLM"], "model_type": "RefinedWebModel", "hidden_size": 64, "n_head": 4, "n_layer": 2,
              "vocab_size": 320, "multi_query": true, "parallel_attn": true, "{{field}}": {{value}} }
            """);
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "models", "build", "--from", "falcon-rw", "--out", "out");
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine("falcon-rw", "config.json"), stderr);
        Assert.Contains($"'{field}'", stderr);
    }
}

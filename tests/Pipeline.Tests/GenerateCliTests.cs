using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>distil generate / models build: the prompt can be audited (--show-prompt, prompt_token_ids) and an unusable model folder exits 2.</summary>
public sealed class GenerateCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Generate_json_prints_the_prompt_token_ids_and_show_prompt_the_rendered_prompt()
    {
        var build = await DistilProcess.RunAsync(_ws.Root, "models", "build", "--preset", "tiny", "--out", "m");
        Assert.True(build.ExitCode == 0, build.Stderr);

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "generate", "--model", "m", "--prompt", "Hi", "--system", "Be brief.",
            "--max-new-tokens", "2", "--temperature", "0", "--json", "--show-prompt", "--threads", "1");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var prompt = json.RootElement.GetProperty("prompt").GetString()!;
        const string expected =
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(expected, prompt);
        Assert.Contains(expected, stderr);

        var ids = json.RootElement.GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(json.RootElement.GetProperty("usage").GetProperty("input_tokens").GetInt32(), ids.Length);
        Assert.Equal(100256, ids[0]); // <|begin_of_text|>, the first special id of the tiny tokenizer
        Assert.Equal(100262, ids[1]); // <|start_header_id|>

        // The same folder with a chat template that does not parse: exit 2, naming the file, line and column.
        var config = Path.Combine(_ws.Root, "m", "tokenizer_config.json");
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config))!;
        node["chat_template"] = "{{ bos_token }}\n{% if messages %}never closed";
        File.WriteAllText(config, node.ToJsonString());
        var broken = await DistilProcess.RunAsync(_ws.Root, "generate", "--model", "m", "--prompt", "Hi", "--max-new-tokens", "1");
        Assert.Equal(2, broken.ExitCode);
        Assert.Contains("tokenizer_config.json (chat_template):2:1: 'if' block is never closed", broken.Stderr);
    }

    [Fact]
    public async Task Generate_with_an_unusable_model_folder_exits_2()
    {
        _ws.Write("empty/readme.txt", "not a model");
        var missing = await DistilProcess.RunAsync(_ws.Root, "generate", "--model", "empty", "--prompt", "Hi");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("error:", missing.Stderr);

        var absent = await DistilProcess.RunAsync(_ws.Root, "generate", "--model", "no-such-folder", "--prompt", "Hi");
        Assert.Equal(2, absent.ExitCode);
    }

    [Fact]
    public async Task Models_build_from_an_unusable_checkpoint_exits_2()
    {
        _ws.Write("ckpt/config.json", "{ not json");
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "models", "build", "--from", "ckpt", "--out", "m");
        Assert.Equal(2, code);
        Assert.Contains("error:", stderr);
    }
}

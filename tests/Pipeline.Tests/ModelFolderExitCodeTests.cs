namespace Distil.Pipeline.Tests;

/// <summary>An unusable model folder is bad input: run, generate and models build all exit 2 and name the problem.</summary>
public sealed class ModelFolderExitCodeTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private string UnusableModel()
    {
        // A config and a tokenizer.json whose model type Distil does not implement.
        var folder = Path.Combine(_ws.Root, "bad-model");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), """{ "model": { "type": "Unigram", "vocab": [] } }""");
        return folder;
    }

    [Fact]
    public async Task Generate_with_an_unusable_model_folder_exits_2()
    {
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "generate", "--model", UnusableModel(), "--prompt", "hi");
        Assert.True(code == 2, stderr);
        Assert.Contains("bad-model", stderr);
    }

    [Fact]
    public async Task Models_build_with_an_unusable_tokenizer_folder_exits_2_naming_the_json_path()
    {
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "models", "build", "--preset", "tiny", "--tokenizer", UnusableModel(), "--out", "built");
        Assert.True(code == 2, stderr);
        Assert.Contains("tokenizer.json", stderr);
        Assert.Contains("Unigram", stderr);
        Assert.False(Directory.Exists(Path.Combine(_ws.Root, "built")));
    }

    [Fact]
    public async Task Run_with_an_unusable_local_model_exits_2()
    {
        UnusableModel();
        _ws.WritePrompts(2);
        _ws.Write("bad-model.json", """
            {
              "name": "bad-model",
              "models": { "gen": { "type": "local", "path": "bad-model" } },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "gen", "type": "text_generation", "after": ["load"], "model": "gen" },
                { "name": "out", "type": "write_parquet", "after": ["gen"], "path": "out.parquet" }
              ]
            }
            """);
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", "bad-model.json", "--runs", "runs", "--output", "out");
        Assert.True(code == 2, stderr);
        Assert.Contains("bad-model", stderr);
    }
}

namespace Distil.Pipeline.Tests;

/// <summary>distil run / validate / steps: exit codes 0 ok, 1 run failed, 2 invalid definition or input.</summary>
public sealed class CliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public CliTests()
    {
        _ws.WritePrompts(20);
        _ws.Write("good.json", """
            {
              "name": "cli",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "out", "type": "write_parquet", "path": "prompts.parquet" }
              ]
            }
            """);
    }

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Run_writes_the_dataset_and_exits_0()
    {
        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", "good.json", "--runs", "runs", "--output", "out", "--limit", "7");
        Assert.True(code == 0, stderr);
        Assert.Contains("[load] done 7/7 rows", stdout);
        Assert.Contains("run succeeded", stdout);
        Assert.Equal(7, (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Root, "out", "prompts.parquet"))).Count);
    }

    [Fact]
    public async Task Validate_accepts_a_good_definition()
    {
        var (code, stdout, _) = await DistilProcess.RunAsync(_ws.Root, "validate", "good.json");
        Assert.Equal(0, code);
        Assert.Contains("is valid", stdout);
        Assert.False(Directory.Exists(Path.Combine(_ws.Root, "runs")));
    }

    [Fact]
    public async Task Invalid_definition_exits_2_naming_the_line()
    {
        _ws.Write("bad.json", """
            {
              "name": "cli",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "out", "type": "write_parquett" }
              ]
            }
            """);
        var validate = await DistilProcess.RunAsync(_ws.Root, "validate", "bad.json");
        var run = await DistilProcess.RunAsync(_ws.Root, "run", "bad.json");
        Assert.Equal(2, validate.ExitCode);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("bad.json, line 5, $.steps[1].type", validate.Stderr);
    }

    [Fact]
    public async Task Malformed_input_exits_2_naming_the_input_line()
    {
        _ws.Write("data/prompts.jsonl", "{\"instruction\": \"a\"}\n{\"instruction\": oops}\n");
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", "good.json", "--runs", "runs", "--output", "out");
        Assert.Equal(2, code);
        Assert.Contains("prompts.jsonl, line 2", stderr);
    }

    [Fact]
    public async Task Failed_run_exits_1()
    {
        _ws.Write("data/prompts.jsonl", "{\"v\": 1}\n{\"v\": \"text\"}\n");
        var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", "good.json", "--runs", "runs", "--output", "out");
        Assert.Equal(1, code);
        Assert.Contains("column 'v'", stderr);
        var runDirectory = Directory.GetDirectories(Path.Combine(_ws.Root, "runs", "cli")).Single();
        Assert.Equal(RunStatus.Failed, RunManifest.Read(Path.Combine(runDirectory, "manifest.json")).Status);
    }

    [Fact]
    public async Task Steps_lists_the_registered_types()
    {
        var (code, stdout, _) = await DistilProcess.RunAsync(_ws.Root, "steps");
        Assert.Equal(0, code);
        Assert.Contains("load_jsonl", stdout);
        Assert.Contains("write_parquet", stdout);
        Assert.Contains("combine_columns", stdout);
    }
}

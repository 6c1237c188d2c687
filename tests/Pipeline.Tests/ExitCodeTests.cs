using System.CommandLine;
using Distil.Cli;

namespace Distil.Pipeline.Tests;

/// <summary>README's exit codes hold for every command: 0 ok, 1 failed, 2 invalid definition, argument or input.</summary>
public sealed class ExitCodeTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public ExitCodeTests()
    {
        _ws.WritePrompts(3);
        _ws.Write("bad.json", """{ "name": "bad", "steps": [ { "name": "load", "type": "load_jsonl", "path": "data/missing.jsonl" } ] }""");
    }

    public void Dispose() => _ws.Dispose();

    [Theory]
    [InlineData("publish", "@runs/x", "--repo", "me/x--y")]
    [InlineData("publish", "@no/such/run", "--to-dir", "@export")]
    [InlineData("models", "build", "--preset", "huge", "--out", "@models/m")]
    [InlineData("models", "build", "--from", "@no/such/checkpoint", "--out", "@models/m")]
    [InlineData("generate", "--model", "@no/such/model", "--prompt", "hi")]
    [InlineData("generate", "--model", "@no/such/model", "--prompt", "hi", "--threads", "100000")]
    [InlineData("submit", "@bad.json", "--server", "http://127.0.0.1:9")]
    [InlineData("schedule", "@bad.json", "--cron", "not a cron", "--server", "http://127.0.0.1:9")]
    [InlineData("cancel", "not-a-guid")]
    [InlineData("run", "@bad.json", "--no-such-option")]
    [InlineData("validate", "@bad.json")]
    [InlineData("run", "@missing.json")]
    public async Task Invalid_arguments_and_definitions_exit_2_in_process(params string[] args)
    {
        Directory.CreateDirectory(Path.Combine(_ws.Root, "runs", "x"));
        var (code, _, error) = await InvokeAsync(args);
        Assert.True(code == ExitCodes.InvalidInput, $"exit {code}: {error}");
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task An_unexpected_exception_is_one_line_and_a_log_file_with_the_trace()
    {
        var root = new RootCommand();
        var boom = new Command("boom");
        Func<ParseResult, int> fail = _ => throw new InvalidOperationException("something no command expected");
        boom.SetAction(fail);
        root.Subcommands.Add(boom);
        var error = new StringWriter();

        var code = await DistilCli.InvokeAsync(root, ["boom"], new StringWriter(), error);

        Assert.Equal(ExitCodes.RunFailed, code);
        var line = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("something no command expected", line);
        var log = line[(line.LastIndexOf(" in ", StringComparison.Ordinal) + 4)..].Trim();
        Assert.Contains("   at ", File.ReadAllText(log));
        File.Delete(log);
    }

    [Fact]
    public async Task Real_processes_map_bad_input_to_2_and_never_print_a_trace()
    {
        var publish = await DistilProcess.RunAsync(_ws.Root, "publish", ".", "--repo", "me/x--y");
        var validate = await DistilProcess.RunAsync(_ws.Root, "validate", "bad.json");
        var usage = await DistilProcess.RunAsync(_ws.Root, "frobnicate");
        Assert.Equal([2, 2, 2], new[] { publish.ExitCode, validate.ExitCode, usage.ExitCode });
        Assert.Contains("bad.json", validate.Stderr);
        Assert.All(new[] { publish.Stderr, validate.Stderr, usage.Stderr }, e => Assert.DoesNotContain("   at ", e));
    }

    private async Task<(int Code, string Output, string Error)> InvokeAsync(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        // "@x" is a path inside the workspace (the test process's working directory is shared with other tests).
        var code = await DistilCli.InvokeAsync(args.Select(a => a.StartsWith('@') ? Path.Combine(_ws.Root, a[1..]) : a).ToArray(), output, error);
        return (code, output.ToString(), error.ToString());
    }
}

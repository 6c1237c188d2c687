using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>Bad submissions are refused with an error that says where the problem is; nothing is enqueued.</summary>
[SuppressMessage("Design", "CA1001:TypesThatOwnDisposableFieldsShouldBeDisposable", Justification = "xUnit disposes it through IAsyncLifetime.DisposeAsync.")]
public sealed class SubmissionErrorTests : IAsyncLifetime
{
    private readonly TestWorkspace _workspace = new();
    private ServeProcess _serve = null!;

    public async Task InitializeAsync() => _serve = await ServeProcess.StartAsync(_workspace, postgres: null);

    [Fact]
    public async Task Definition_with_an_unknown_step_type_is_refused_naming_file_and_line()
    {
        var path = Path.Combine(_workspace.Root, "pipelines", "broken.json");
        await File.WriteAllTextAsync(Path.Combine(_workspace.Root, "data", "x.jsonl"), "{\"instruction\": \"hi\"}\n");
        await File.WriteAllTextAsync(path, """
            {
              "name": "broken",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/x.jsonl" },
                { "name": "oops", "type": "no_such_step" }
              ]
            }
            """);

        var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "submit", path, "--server", _serve.Url);

        Assert.True(exit == 2, output);
        Assert.Contains(path, output);
        Assert.Contains("line 5", output);
        Assert.Contains("no_such_step", output);
        Assert.Empty(JsonDocument.Parse(await _serve.Http.GetStringAsync("/api/runs")).RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Definition_that_splits_train_and_test_by_prompt_is_refused_because_a_shard_sees_only_its_prompts()
    {
        var path = Path.Combine(_workspace.Root, "pipelines", "split.json");
        await File.WriteAllTextAsync(Path.Combine(_workspace.Root, "data", "s.jsonl"), "{\"prompt\": \"hi\", \"chosen\": \"a\", \"rejected\": \"b\", \"prompt_id\": \"1\"}\n");
        await File.WriteAllTextAsync(path, """
            {
              "name": "split",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/s.jsonl" },
                { "name": "formats", "type": "format_outputs", "after": ["load"], "configs": ["dpo", "kto"],
                  "test_size": 0.1 }
              ]
            }
            """);

        var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "submit", path, "--server", _serve.Url);

        Assert.True(exit == 2, output);
        Assert.Contains(path, output);
        Assert.Contains("line 6", output);
        Assert.Contains("test_size", output);
        Assert.Contains("a shard sees only its own prompts", output);
        Assert.Empty(JsonDocument.Parse(await _serve.Http.GetStringAsync("/api/runs")).RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Api_refuses_a_body_without_a_definition_and_text_that_is_not_json()
    {
        using var empty = await _serve.Http.PostAsJsonAsync("/api/runs", new { definition_file = "x.json" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Contains("definition", await empty.Content.ReadAsStringAsync());

        using var garbage = await _serve.Http.PostAsJsonAsync("/api/runs", new { definition = "{ \"name\": ", definition_file = "/tmp/garbage.json" });
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Contains("/tmp/garbage.json", await garbage.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Api_runs_the_same_validation_as_the_cli_models_included_and_reports_every_problem()
    {
        var definition = """
            {
              "name": "api-models",
              "models": { "m": { "type": "local", "path": "models/m", "build": { "preset": true, "seed": "str" } } },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/none.jsonl", "input_batch_size": 2147483648 }
              ]
            }
            """;
        using var response = await _serve.Http.PostAsJsonAsync("/api/runs", new { definition, definition_file = Path.Combine(_workspace.Root, "pipelines", "api.json") });
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("4 problems", body);
        Assert.Contains("$.models.m.build.preset", body);
        Assert.Contains("$.models.m.build.seed", body);
        Assert.Contains("$.steps[0].input_batch_size", body);
        Assert.Contains("$.steps[0].path", body);
        Assert.Empty(JsonDocument.Parse(await _serve.Http.GetStringAsync("/api/runs")).RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Missing_definition_file_and_invalid_cron_are_reported()
    {
        var missing = Path.Combine(_workspace.Root, "nope.json");
        var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "submit", missing, "--server", _serve.Url);
        Assert.Equal(2, exit);
        Assert.Contains(missing, output);

        var pipeline = _workspace.Pipeline("cron", rows: 5);
        (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "schedule", pipeline, "--cron", "every tuesday", "--server", _serve.Url);
        Assert.Equal(2, exit);
        Assert.Contains("every tuesday", output);
    }

    public async Task DisposeAsync()
    {
        await _serve.DisposeAsync();
        _workspace.Dispose();
    }
}

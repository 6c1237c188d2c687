using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distil.Engine.Tests.Support;

/// <summary>
/// Renders templates with @huggingface/jinja (tests/peers, installed by .ci/setup.sh) through node, in one process per
/// batch. A missing node or package fails the test: the comparison is the point of it.
/// </summary>
internal static class JinjaPeer
{
    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    public sealed record Result(string? Output, string? Error);

    public static IReadOnlyList<Result> Render(IReadOnlyList<(string Template, JsonNode Context)> cases)
    {
        var script = Path.Combine(TestRepository.Root, "tests", "peers", "jinja-render.mjs");
        var package = Path.Combine(TestRepository.Root, "tests", "peers", "node_modules", "@huggingface", "jinja", "package.json");
        Assert.True(File.Exists(package), $"@huggingface/jinja is not installed ({package}); run .ci/setup.sh (npm ci --prefix tests/peers)");
        var input = new JsonArray(cases.Select(c => (JsonNode)new JsonObject { ["template"] = c.Template, ["context"] = c.Context.DeepClone() }).ToArray());
        var start = new ProcessStartInfo("node", [script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.Combine(TestRepository.Root, "tests", "peers"),
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"node is required for the @huggingface/jinja conformance tests: {e.Message}");
            throw;
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardInput.Write(input.ToJsonString());
            process.StandardInput.Close();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"node {script} failed: {stderr.Result}");
            return JsonSerializer.Deserialize<List<Result>>(stdout.Result, CaseInsensitive)!;
        }
    }
}

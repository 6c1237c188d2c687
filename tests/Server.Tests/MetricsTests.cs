using System.Globalization;
using System.Text.RegularExpressions;
using Distil.Judge.Tests;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// The "Distil" meter seen from outside: Prometheus scrapes of <c>/metrics</c> on a real serve process while a run
/// calls a served model (the loopback OpenAI-compatible endpoint), and an OTLP push to a loopback receiver.
/// </summary>
public sealed partial class MetricsTests : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Metrics_endpoint_shows_rows_tokens_and_concurrency_moving_during_a_run()
    {
        // 80 prompts in batches of 4, each request 150 ms: about 3 s of generation, several scrapes' worth.
        await using var model = new LoopbackOpenAIServer { BaseLatency = TimeSpan.FromMilliseconds(150) };
        var pipeline = GenerationPipeline(_workspace, "metered", rows: 80, model.Endpoint);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 40);
        var id = await serve.SubmitAsync(_workspace, pipeline);

        // Scrape until the run is over, keeping every scrape taken while it still ran.
        var during = new List<Dictionary<string, double>>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var scrape = Parse(await serve.Http.GetStringAsync("/metrics"));
            var state = (await serve.GetRunAsync(id)).GetProperty("run").GetProperty("state").GetString();
            if (state is "Succeeded" or "Failed" or "Cancelled")
            {
                Assert.Equal("Succeeded", state);
                break;
            }

            during.Add(scrape);
            Assert.True(DateTime.UtcNow < deadline, "the run did not finish in 90 s");
            await Task.Delay(300);
        }

        var finalText = await serve.Http.GetStringAsync("/metrics");
        var final = Parse(finalText);
        var generatedRows = Series("distil_rows_total", ("step", "gen"));
        var outputTokens = Series("distil_model_tokens_total", ("model", "served"), ("step", "gen"), ("direction", "output"));

        // Every prompt went through the generation step and the model; tokens as the loopback server itself counted them.
        Assert.Equal(80, Value(final, generatedRows));
        Assert.Equal(80, Value(final, Series("distil_model_requests_total", ("model", "served"), ("step", "gen"))));
        Assert.Equal(80 * LoopbackOpenAIServer.CompletionTokens, Value(final, outputTokens));
        Assert.Equal(model.DeliveredUsage.Output, Value(final, outputTokens));
        Assert.Equal(model.DeliveredUsage.Input, Value(final, Series("distil_model_tokens_total", ("model", "served"), ("step", "gen"), ("direction", "input"))));
        Assert.Equal(80, Value(final, Series("distil_rows_total", ("step", "load"))));

        // While the run went on, the counters were seen part-way and rising, and the gauges were live.
        var partial = during.Select(s => Value(s, generatedRows)).Where(v => v is > 0 and < 80).ToList();
        Assert.True(partial.Count >= 2 && partial.Distinct().Count() >= 2, $"rows of step gen seen during the run: {string.Join(", ", during.Select(s => Value(s, generatedRows)))}");
        Assert.Contains(during, s => Value(s, Series("distil_model_active_requests", ("model", "served"), ("step", "gen"))) > 0);
        Assert.Contains(during, s => Value(s, Series("distil_model_tokens_per_second", ("model", "served"))) > 0);
        Assert.Contains(during, s => s.Keys.Any(k => k.StartsWith("distil_step_queue_depth{", StringComparison.Ordinal) && k.Contains("step=\"gen\"", StringComparison.Ordinal)));
        Assert.Contains(during, s => Value(s, Series("distil_step_active_batches", ("step", "gen"))) > 0);

        // After the run nothing is in flight any more.
        Assert.Equal(0, Value(final, Series("distil_model_active_requests", ("model", "served"), ("step", "gen"))));
    }

    [Fact]
    public async Task Metrics_are_pushed_over_otlp_when_an_endpoint_is_set()
    {
        await using var receiver = new OtlpReceiver();
        var pipeline = _workspace.Pipeline("pushed", rows: 30, delayMs: 100, batchSize: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 30, environment: new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        });
        var id = await serve.SubmitAsync(_workspace, pipeline);
        await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));

        // OTLP/HTTP carries protobuf, whose strings are plain UTF-8: the meter's and instruments' names are in the body.
        var body = await receiver.WaitForAsync(b => b.Contains("distil.rows", StringComparison.Ordinal) && b.Contains("pace", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.Contains("Distil", body);
        Assert.Equal("/v1/metrics", receiver.LastPath);
    }

    [Fact]
    public async Task An_otlp_endpoint_that_is_not_a_url_is_refused_naming_its_source()
    {
        var (exit, output) = await DistilProcess.RunInAsync([], _workspace.Root, new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "localhost:4317" }, "worker", "--postgres", "Host=127.0.0.1");
        Assert.Equal(2, exit);
        Assert.Contains("OTEL_EXPORTER_OTLP_ENDPOINT", output);
        Assert.Contains("localhost:4317", output);
    }

    /// <summary>JSONL prompts → text_generation on the served model "served" (at most 2 requests at once) → Parquet.</summary>
    internal static string GenerationPipeline(TestWorkspace workspace, string name, int rows, string endpoint)
    {
        File.WriteAllLines(Path.Combine(workspace.Root, "data", $"{name}.jsonl"), Enumerable.Range(0, rows).Select(i => $$"""{"instruction": "Say hi number {{i}}", "n": {{i}}}"""));
        var path = Path.Combine(workspace.Root, "pipelines", $"{name}.json");
        File.WriteAllText(path, $$"""
            {
              "name": "{{name}}",
              "models": { "served": { "type": "openai", "endpoint": "{{endpoint}}", "model": "served", "max_concurrency": 2, "adaptive_concurrency": false } },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/{{name}}.jsonl" },
                { "name": "gen", "type": "text_generation", "model": "served", "input_batch_size": 4 },
                { "name": "write", "type": "write_parquet", "path": "rows.parquet" }
              ]
            }
            """);
        return path;
    }

    internal static string Series(string metric, params (string Name, string Value)[] labels) =>
        metric + "|" + string.Join("|", labels.Select(l => $"{l.Name}=\"{l.Value}\""));

    /// <summary>The sum over every sample of the metric whose labels include all of the given ones (0 when none).</summary>
    internal static double Value(Dictionary<string, double> scrape, string series)
    {
        var parts = series.Split('|');
        return scrape.Where(kv => kv.Key.StartsWith(parts[0] + "{", StringComparison.Ordinal) && parts.Skip(1).All(l => kv.Key.Contains(l, StringComparison.Ordinal)))
            .Sum(kv => kv.Value);
    }

    /// <summary>Prometheus text exposition: one sample per line, <c>name{labels} value [timestamp]</c>; comments skipped.</summary>
    internal static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (SampleLine().Match(line) is { Success: true } match)
            {
                var key = match.Groups["name"].Value + "{" + match.Groups["labels"].Value + "}";
                samples[key] = double.Parse(match.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        return samples;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>[^}]*)\})?\s+(?<value>\S+)")]
    private static partial Regex SampleLine();

    public void Dispose() => _workspace.Dispose();
}

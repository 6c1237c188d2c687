using Distil.Judge.Tests;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>A worker's own Prometheus endpoint (<c>worker --metrics-port</c>): scraped while the worker runs the shards.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WorkerMetricsTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_worker_started_with_a_metrics_port_answers_scrapes_of_the_shards_it_runs()
    {
        await using var model = new LoopbackOpenAIServer { BaseLatency = TimeSpan.FromMilliseconds(150) };
        var pipeline = MetricsTests.GenerationPipeline(_workspace, "scraped", rows: 40, model.Endpoint);
        var database = await postgres.CreateDatabaseAsync("workermetrics");
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 20);
        var port = DistilProcess.FreePort();
        await using var worker = await WorkerProcess.StartAsync(_workspace, database, "scraped", extraArgs: ["--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var id = await serve.SubmitAsync(_workspace, pipeline);

        var rows = MetricsTests.Series("distil_rows_total", ("step", "gen"));
        var seen = new List<double>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while ((await serve.GetRunAsync(id)).GetProperty("run").GetProperty("state").GetString() is not ("Succeeded" or "Failed"))
        {
            seen.Add(MetricsTests.Value(MetricsTests.Parse(await http.GetStringAsync("/metrics")), rows));
            Assert.True(DateTime.UtcNow < deadline, "the run did not finish in 90 s");
            await Task.Delay(300);
        }

        var final = MetricsTests.Parse(await http.GetStringAsync("/metrics"));
        Assert.Equal(40, MetricsTests.Value(final, rows));
        Assert.Equal(model.Requests, MetricsTests.Value(final, MetricsTests.Series("distil_model_requests_total", ("model", "served"), ("step", "gen"))));
        Assert.True(seen.Any(v => v is > 0 and < 40), $"rows of step gen scraped during the run: {string.Join(", ", seen)}");
        // The serve process ran no shard: the figures came from the worker.
        Assert.Equal(0, MetricsTests.Value(MetricsTests.Parse(await serve.Http.GetStringAsync("/metrics")), rows));
    }

    public void Dispose() => _workspace.Dispose();
}

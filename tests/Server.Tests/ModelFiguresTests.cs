using System.Globalization;
using System.Text.Json;
using Distil.Judge.Tests;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// Each served model's figures in the run API and on the dashboard (the same ModelActivity the CLI prints): requests in
/// flight of the concurrency limit while the run goes on, output tokens per second, and failed attempts as an error rate,
/// reported through Postgres by a worker process that also answers Prometheus scrapes itself (<c>worker --metrics-port</c>).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ModelFiguresTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_workers_models_show_their_figures_on_the_dashboard_and_the_worker_answers_scrapes()
    {
        // The first two requests fail with 503 and are retried: 82 attempts, 2 failed. 80 prompts of 150 ms, 2 at a time.
        await using var model = new LoopbackOpenAIServer { BaseLatency = TimeSpan.FromMilliseconds(150), FailFirst = 2 };
        var pipeline = MetricsTests.GenerationPipeline(_workspace, "figures", rows: 80, model.Endpoint);
        var database = await postgres.CreateDatabaseAsync("models");
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 40);
        var port = LoopbackPort.Free();
        await using var worker = await WorkerProcess.StartAsync(_workspace, database, "metered", extraArgs: ["--metrics-port", port.ToString(CultureInfo.InvariantCulture)]);
        using var scraper = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var id = await serve.SubmitAsync(_workspace, pipeline);

        var during = new List<JsonElement>();
        var scraped = new List<double>();
        var generated = MetricsTests.Series("distil_rows_total", ("step", "gen"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        JsonElement finished;
        while ((finished = await serve.GetRunAsync(id)).GetProperty("run").GetProperty("state").GetString() is not ("Succeeded" or "Failed"))
        {
            if (finished.GetProperty("run").GetProperty("state").GetString() == "Running")
            {
                during.AddRange(finished.GetProperty("models").EnumerateArray());
            }

            scraped.Add(MetricsTests.Value(MetricsTests.Parse(await scraper.GetStringAsync("/metrics")), generated));
            Assert.True(DateTime.UtcNow < deadline, "the run did not finish in 120 s");
            await Task.Delay(250);
        }

        Assert.Equal("Succeeded", finished.GetProperty("run").GetProperty("state").GetString());

        // The worker's own endpoint: its shards' rows part-way during the run, all of them and every answered request at the end;
        // serve ran no shard, so its endpoint has none of them.
        var final = MetricsTests.Parse(await scraper.GetStringAsync("/metrics"));
        Assert.Equal(80, MetricsTests.Value(final, generated));
        Assert.Equal(80, MetricsTests.Value(final, MetricsTests.Series("distil_model_requests_total", ("model", "served"), ("step", "gen"))));
        Assert.True(scraped.Any(v => v is > 0 and < 80), $"rows of step gen scraped from the worker during the run: {string.Join(", ", scraped)}");
        Assert.Equal(0, MetricsTests.Value(MetricsTests.Parse(await serve.Http.GetStringAsync("/metrics")), generated));

        Assert.Contains(during, m => m.GetProperty("in_flight").GetInt32() > 0);
        Assert.All(during, m => Assert.InRange(m.GetProperty("in_flight").GetInt32(), 0, m.GetProperty("concurrency_limit").GetInt32()));
        Assert.Contains(during, m => m.GetProperty("concurrency_limit").GetInt32() == 2);
        Assert.Contains(during, m => m.GetProperty("tokens_per_second").GetDouble() > 0);

        var served = Assert.Single(finished.GetProperty("models").EnumerateArray());
        Assert.Equal("served", served.GetProperty("model").GetString());
        Assert.Equal(model.Requests, served.GetProperty("requests").GetInt64());
        Assert.Equal(2, served.GetProperty("failed").GetInt64());
        Assert.Equal(80 * LoopbackOpenAIServer.CompletionTokens, served.GetProperty("output_tokens").GetInt64());
        Assert.Equal(2.0 / model.Requests, served.GetProperty("error_rate").GetDouble(), 6);
        Assert.Equal(0, served.GetProperty("in_flight").GetInt32());

        var (playwright, browser) = await HeadlessChromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        await page.GotoAsync(serve.Url);
        await page.Locator($"tr.run[data-run='{id}']").ClickAsync();
        var row = page.Locator("#models tr[data-model=served]");
        await row.WaitForAsync();
        Assert.Equal(model.Requests.ToString(CultureInfo.InvariantCulture), await row.Locator("[data-col=requests]").InnerTextAsync());
        Assert.Equal((200.0 / model.Requests).ToString("0.#", CultureInfo.InvariantCulture) + " %", await row.Locator("[data-col=error_rate]").InnerTextAsync());
        await Screenshots.TakeAsync(page, "model-figures");
    }

    public void Dispose() => _workspace.Dispose();
}

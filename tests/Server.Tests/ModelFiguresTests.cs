using System.Globalization;
using System.Text.Json;
using Distil.Judge.Tests;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// Each served model's figures in the run API and on the dashboard (the same ModelActivity the CLI prints): requests in
/// flight of the concurrency limit while the run goes on, output tokens per second, and failed attempts as an error rate,
/// reported by the worker through Postgres.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ModelFiguresTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_runs_models_show_concurrency_tokens_per_second_and_error_rate()
    {
        // The first two requests fail with 503 and are retried: 82 attempts, 2 failed. 80 prompts of 150 ms, 2 at a time.
        await using var model = new LoopbackOpenAIServer { BaseLatency = TimeSpan.FromMilliseconds(150), FailFirst = 2 };
        var pipeline = MetricsTests.GenerationPipeline(_workspace, "figures", rows: 80, model.Endpoint);
        var database = await postgres.CreateDatabaseAsync("models");
        await using var serve = await ServeProcess.StartAsync(_workspace, database, shardSize: 40);
        var id = await serve.SubmitAsync(_workspace, pipeline);

        var during = new List<JsonElement>();
        var finished = await serve.WaitUntilAsync(id, run =>
        {
            if (run.GetProperty("run").GetProperty("state").GetString() == "Running")
            {
                during.AddRange(run.GetProperty("models").EnumerateArray());
            }

            return run.GetProperty("run").GetProperty("state").GetString() is "Succeeded" or "Failed";
        }, TimeSpan.FromSeconds(120), "the run to finish");
        Assert.Equal("Succeeded", finished.GetProperty("run").GetProperty("state").GetString());

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

using System.Globalization;
using Distil.Server.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Distil.Server.Tests;

/// <summary>The dashboard, seen in headless Chromium: live state through server-sent events, then a finished run's figures.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DashboardTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Dashboard_follows_a_run_live_and_shows_its_figures_when_finished()
    {
        var database = await postgres.CreateDatabaseAsync("dashboard");
        // 120 rows, ratings 1..5 in turn: 24 of each. About 3 s of work so the page sees it running.
        var pipeline = _workspace.Pipeline("dashboard", rows: 120, delayMs: 250, batchSize: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, shardSize: 40);
        var (playwright, browser) = await HeadlessChromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        await page.GotoAsync(serve.Url);
        await page.Locator("#connection").Filter(new() { HasText = "live" }).WaitForAsync();

        // Submitted after the page loaded: whatever it shows next came through /api/events.
        var id = await serve.SubmitAsync(_workspace, pipeline);
        await page.Locator($"tr.run[data-run='{id}']").WaitForAsync(new() { Timeout = 30_000 });
        await page.Locator("#run-state").Filter(new() { HasText = "Succeeded" }).WaitForAsync(new() { Timeout = 90_000 });

        Assert.Equal("120 / 120", await page.Locator("[data-figure=rows] b").InnerTextAsync());
        Assert.Equal("3 / 3", await page.Locator("[data-figure=shards] b").InnerTextAsync());
        Assert.Equal("120", await page.Locator("[data-figure=output_rows] b").InnerTextAsync());
        var rowsPerSecond = double.Parse(await page.Locator("[data-figure=rows_per_s] b").InnerTextAsync(), NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        Assert.True(rowsPerSecond > 0);

        var bars = page.Locator("#rating-histogram [data-rating]");
        Assert.Equal(5, await bars.CountAsync());
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal((i + 1).ToString(CultureInfo.InvariantCulture), await bars.Nth(i).GetAttributeAsync("data-rating"));
            Assert.Equal("24", await bars.Nth(i).GetAttributeAsync("data-count"));
            Assert.Equal("24", await bars.Nth(i).Locator(".count").InnerTextAsync());
        }

        Assert.Contains("tallest 24", await page.Locator("#rating-axis").InnerTextAsync());
        // Sample rows are field tables a person can read, not JSON text.
        var sample = page.Locator("#samples table.sample").First;
        Assert.Equal("Explain idea number 0 in one sentence.", await sample.Locator("tr:has(th:text-is('instruction')) td").InnerTextAsync());
        Assert.DoesNotContain("{\"", await page.Locator("#samples").InnerTextAsync());
        var steps = page.Locator("#steps tr[data-step]");
        Assert.Equal(["load", "pace", "keep", "write"], await steps.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.step)"));
        Assert.Contains("120", await page.Locator("#steps tr[data-step=write]").InnerTextAsync());
        Assert.Contains(_workspace.Outputs, await page.Locator("#run-output").InnerTextAsync());
    }

    [Fact]
    public async Task Dashboard_shows_why_a_run_failed()
    {
        var database = await postgres.CreateDatabaseAsync("dashfail");
        var pipeline = _workspace.Pipeline("vanishing", rows: 20);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 10);
        var id = await serve.SubmitAsync(_workspace, pipeline);
        // The data is overwritten after submission, before any worker plans the run: it fails with a located message.
        File.WriteAllText(Path.Combine(_workspace.Root, "data", "vanishing.jsonl"), "{\"instruction\": \"fine\", \"n\": 0, \"chosen_rating\": 1, \"topic\": \"x\"}\nthis line is not JSON\n");
        await using var worker = await WorkerProcess.StartAsync(_workspace, database, "worker");

        await serve.WaitForStateAsync(id, "Failed", TimeSpan.FromSeconds(60));
        var (playwright, browser) = await HeadlessChromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        await page.GotoAsync(serve.Url);
        await page.Locator("#run-error").WaitForAsync(new() { Timeout = 30_000 });
        var shown = await page.Locator("#run-error").InnerTextAsync();
        Assert.True(shown.Contains("vanishing.jsonl", StringComparison.Ordinal), shown);
    }

    public void Dispose() => _workspace.Dispose();
}

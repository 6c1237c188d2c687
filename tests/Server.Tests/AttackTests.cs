using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// The service on its default loopback binding (no token), tried as a web page the user happens to visit
/// would try it: real HTTP with the headers a browser sends for that page. Each attack is refused and starts nothing.
/// </summary>
public sealed class AttackTests : IDisposable
{
    private const string Evil = "http://evil.example";

    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_domain_rebound_to_loopback_reads_nothing()
    {
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null);
        var port = new Uri(serve.Url).Port;

        foreach (var path in new[] { "/", "/api/runs", "/hangfire" })
        {
            using var rebound = await SendAsync(serve, HttpMethod.Get, path, host: $"evil.example:{port}");
            Assert.True(rebound.StatusCode == HttpStatusCode.BadRequest, $"{path} with Host evil.example answered {rebound.StatusCode}");
            Assert.DoesNotContain("<html", await rebound.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        }

        foreach (var host in new[] { $"127.0.0.1:{port}", $"localhost:{port}", $"[::1]:{port}", $"127.8.9.10:{port}" })
        {
            using var allowed = await SendAsync(serve, HttpMethod.Get, "/api/runs", host: host);
            Assert.True(allowed.StatusCode == HttpStatusCode.OK, $"Host {host} answered {allowed.StatusCode}");
        }
    }

    [Fact]
    public async Task Cross_site_requests_to_the_api_are_refused_and_start_no_run()
    {
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null);
        var pipeline = _workspace.Pipeline("target", rows: 10);
        await ScheduleAsync(serve, pipeline, "nightly");
        var definition = await File.ReadAllTextAsync(pipeline);

        // A <form method=post> on another site: no preflight, the browser names the page's origin.
        using var form = await SendAsync(serve, HttpMethod.Post, "/api/schedules/nightly/trigger", Form("x=1"), origin: Evil, fetchSite: "cross-site");
        Assert.Equal(HttpStatusCode.Forbidden, form.StatusCode);
        Assert.Contains("cross-site", await form.Content.ReadAsStringAsync());

        // The same from a browser that sends neither Origin nor Sec-Fetch-Site: no JSON type, no client header.
        using var bare = await SendAsync(serve, HttpMethod.Post, "/api/schedules/nightly/trigger", new StringContent("x", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.Forbidden, bare.StatusCode);

        // A form with enctype=text/plain carrying JSON text, the classic way to forge a JSON body.
        var forged = new StringContent(JsonSerializer.Serialize(new { definition, definition_file = pipeline }), Encoding.UTF8, "text/plain");
        using var submit = await SendAsync(serve, HttpMethod.Post, "/api/runs", forged, origin: Evil, fetchSite: "cross-site");
        Assert.Equal(HttpStatusCode.Forbidden, submit.StatusCode);

        // Another port on localhost is the same site but not the same origin.
        using var sameSite = await SendAsync(serve, HttpMethod.Post, "/api/runs", JsonContent.Create(new { definition, definition_file = pipeline }),
            origin: "http://localhost:3000", fetchSite: "same-site");
        Assert.Equal(HttpStatusCode.Forbidden, sameSite.StatusCode);

        using var cancel = await SendAsync(serve, HttpMethod.Delete, $"/api/runs/{Guid.NewGuid()}", origin: Evil, fetchSite: "cross-site");
        Assert.Equal(HttpStatusCode.Forbidden, cancel.StatusCode);

        // The dashboard's own origin and the CLI's way of calling still work: exactly one run, the legitimate one.
        using var own = await SendAsync(serve, HttpMethod.Post, "/api/schedules/nightly/trigger", JsonContent.Create(new { }), origin: serve.Url, fetchSite: "same-origin");
        Assert.Equal(HttpStatusCode.Accepted, own.StatusCode);
        var run = await WaitForRunsAsync(serve, 1);
        await serve.WaitForStateAsync(run, "Succeeded", TimeSpan.FromSeconds(60));
        Assert.Single(await ListRunsAsync(serve));
    }

    [Fact]
    public async Task Triggering_an_unknown_schedule_is_not_found()
    {
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null);

        using var unknown = await serve.Http.PostAsync("/api/schedules/no-such-schedule/trigger", null);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("no-such-schedule", await unknown.Content.ReadAsStringAsync());
        Assert.Empty(await ListRunsAsync(serve));
    }

    [Fact]
    public async Task Hangfire_dashboard_actions_from_another_site_are_refused()
    {
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null);
        await ScheduleAsync(serve, _workspace.Pipeline("target", rows: 10), "nightly");

        using var crossSite = await SendAsync(serve, HttpMethod.Post, "/hangfire/recurring/trigger", Form("jobs[]=nightly"), origin: Evil, fetchSite: "cross-site");
        Assert.Equal(HttpStatusCode.Forbidden, crossSite.StatusCode);

        // Without Origin headers the request still lacks Hangfire's antiforgery token, which another site cannot read.
        using var tokenless = await SendAsync(serve, HttpMethod.Post, "/hangfire/recurring/trigger", Form("jobs[]=nightly"));
        Assert.Equal(HttpStatusCode.Forbidden, tokenless.StatusCode);

        // Hangfire's own page, in a real browser, can still trigger the job.
        var (playwright, browser) = await HeadlessChromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GotoAsync($"{serve.Url}/hangfire/recurring");
        await page.Locator("input.js-jobs-list-checkbox[value='nightly']").CheckAsync();
        await page.Locator("button.js-jobs-list-command", new() { HasText = "Trigger now" }).ClickAsync();
        var run = await WaitForRunsAsync(serve, 1);
        await serve.WaitForStateAsync(run, "Succeeded", TimeSpan.FromSeconds(60));
        Assert.Single(await ListRunsAsync(serve));
    }

    [Fact]
    public async Task A_step_name_that_climbs_out_of_the_run_folder_is_refused_with_its_location()
    {
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null);
        var pipeline = _workspace.Pipeline("climb", rows: 10);
        var definition = (await File.ReadAllTextAsync(pipeline)).Replace("\"name\": \"pace\"", "\"name\": \"../../escaped\"");

        using var response = await serve.Http.PostAsJsonAsync("/api/runs", new { definition, definition_file = pipeline });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        Assert.Contains(pipeline, error);
        Assert.Contains("$.steps[1].name", error);
        Assert.Contains("'../../escaped'", error);
        Assert.Empty(await ListRunsAsync(serve));
    }

    public void Dispose() => _workspace.Dispose();

    private static FormUrlEncodedContent Form(string body) =>
        new(body.Split('&').Select(p => p.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], p[1])));

    /// <summary>A request as a browser would send it: no CLI header, and the Origin / Sec-Fetch-Site it would add.</summary>
    private static async Task<HttpResponseMessage> SendAsync(ServeProcess serve, HttpMethod method, string path, HttpContent? content = null,
        string? origin = null, string? fetchSite = null, string? host = null)
    {
        using var client = new HttpClient { BaseAddress = new Uri(serve.Url) };
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin.TrimEnd('/'));
        }

        if (fetchSite is not null)
        {
            request.Headers.Add("Sec-Fetch-Site", fetchSite);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        var response = await client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static async Task ScheduleAsync(ServeProcess serve, string pipeline, string id)
    {
        // Once a year: it fires only when triggered.
        using var response = await serve.Http.PostAsJsonAsync("/api/schedules",
            new { definition = await File.ReadAllTextAsync(pipeline), definition_file = pipeline, cron = "0 0 1 1 *", id });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<List<JsonElement>> ListRunsAsync(ServeProcess serve) =>
        [.. JsonDocument.Parse(await serve.Http.GetStringAsync("/api/runs")).RootElement.EnumerateArray()];

    private static async Task<Guid> WaitForRunsAsync(ServeProcess serve, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var runs = await ListRunsAsync(serve);
            if (runs.Count >= count)
            {
                return runs[0].GetProperty("id").GetGuid();
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"{runs.Count} runs after 30 s, expected {count}. serve output:\n{serve.Process.Output}");
            }

            await Task.Delay(200);
        }
    }
}

using System.Net;
using System.Net.Http.Headers;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// Real HTTP from a non-loopback address of this machine (the traffic never leaves it): refused without
/// the token on every page, API and /hangfire; accepted with it, by header or by the cookie /?token= sets.
/// </summary>
public sealed class RemoteAccessTests : IDisposable
{
    private const string Token = "dash-token-91b2e7";
    private static readonly string[] Paths = ["/", "/api/runs", "/api/events", "/api/schedules", "/hangfire", "/hangfire/jobs/succeeded"];

    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Non_loopback_requests_without_the_token_are_refused_everywhere()
    {
        var address = LocalAddress.NonLoopback();
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, host: address.ToString(), token: Token);
        using var anonymous = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = new Uri(serve.Url) };

        foreach (var path in Paths)
        {
            using var refused = await anonymous.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{path} answered {refused.StatusCode} without the token");

            using var wrong = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "not-it") } };
            using var wrongResponse = await anonymous.SendAsync(wrong, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);

            using var right = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } };
            using var rightResponse = await anonymous.SendAsync(right, HttpCompletionOption.ResponseHeadersRead);
            Assert.True(rightResponse.StatusCode == HttpStatusCode.OK, $"{path} answered {rightResponse.StatusCode} with the token");
        }

        using var submit = await anonymous.PostAsync("/api/runs", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, submit.StatusCode);
    }

    [Fact]
    public async Task Token_in_the_address_bar_becomes_a_cookie_for_pages_and_hangfire()
    {
        var address = LocalAddress.NonLoopback();
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, host: address.ToString(), token: Token);
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new SocketsHttpHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = new Uri(serve.Url) };

        using var bad = await browser.GetAsync("/?token=guess");
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);

        using var login = await browser.GetAsync($"/?token={Token}");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.DoesNotContain(Token, login.Headers.Location!.ToString());
        Assert.Contains(login.Headers.GetValues("Set-Cookie"), c => c.Contains("httponly", StringComparison.OrdinalIgnoreCase));

        using var page = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using var hangfire = await browser.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.OK, hangfire.StatusCode);
    }

    [Fact]
    public async Task Cli_needs_the_token_to_submit_to_a_protected_server()
    {
        var address = LocalAddress.NonLoopback();
        var pipeline = _workspace.Pipeline("guarded", rows: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, host: address.ToString(), token: Token);

        var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "submit", pipeline, "--server", serve.Url);
        Assert.Equal(2, exit);
        Assert.Contains("DISTIL_DASHBOARD_TOKEN", output);

        var id = await serve.SubmitAsync(_workspace, pipeline, token: Token);
        await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Binding_beyond_loopback_without_a_token_is_refused_at_start()
    {
        var url = $"http://{LocalAddress.NonLoopback()}:{DistilProcess.FreePort()}";
        await using var serve = DistilProcess.Start(_workspace.Root, new Dictionary<string, string?>(), "serve", "--urls", url);

        Assert.Equal(2, await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("DISTIL_DASHBOARD_TOKEN", serve.Output);
        using var client = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(url));
    }

    public void Dispose() => _workspace.Dispose();
}

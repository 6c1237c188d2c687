using System.Net;
using System.Net.Http.Headers;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// Real HTTP from a non-loopback address: <c>distil serve</c> runs in a network namespace of the test's own and
/// every client (HttpClient sockets, the CLI) in a second one, joined by a veth pair; no packet leaves them.
/// Without the token every page, API and /hangfire is refused; with it, by header or by the cookie /?token=
/// sets, they answer. Binding beyond loopback without a token is refused at start.
/// </summary>
public sealed class RemoteAccessTests : IDisposable
{
    private const string Token = "dash-token-91b2e7";
    private static readonly string[] Paths = ["/", "/api/runs", "/api/events", "/api/schedules", "/hangfire", "/hangfire/jobs/succeeded"];

    private readonly NetworkNamespaces? _network;
    private readonly TestWorkspace _workspace;

    public RemoteAccessTests()
    {
        // Skipped facts never construct the class, so only runs that may create namespaces get here; a failure
        // to create them fails the test with the reason.
        _network = NetworkNamespaces.SkipReason is null ? NetworkNamespaces.Create() : null;
        _workspace = new TestWorkspace();
    }

    private NetworkNamespaces Network => _network!;

    [NetworkNamespaceFact]
    public async Task Non_loopback_requests_without_the_token_are_refused_everywhere()
    {
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, token: Token, network: Network);
        using var anonymous = Network.CreateClient(serve.Url);

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

    [NetworkNamespaceFact]
    public async Task Token_in_the_address_bar_becomes_a_cookie_for_pages_and_hangfire()
    {
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, token: Token, network: Network);
        using var browser = Network.CreateClient(serve.Url, new CookieContainer());

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

    [NetworkNamespaceFact]
    public async Task Cli_needs_the_token_to_submit_to_a_protected_server()
    {
        var pipeline = _workspace.Pipeline("guarded", rows: 10);
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, token: Token, network: Network);

        var (exit, output) = await DistilProcess.RunInAsync(serve.ClientLauncher, _workspace.Root, new Dictionary<string, string?>(), "submit", pipeline, "--server", serve.Url);
        Assert.Equal(2, exit);
        Assert.Contains("DISTIL_DASHBOARD_TOKEN", output);

        var id = await serve.SubmitAsync(_workspace, pipeline, token: Token);
        await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));
    }

    [NetworkNamespaceFact]
    public async Task Binding_beyond_loopback_without_a_token_is_refused_at_start()
    {
        await AssertRefusedAtStartAsync($"http://{Network.ServerAddress}:5080", $"http://{Network.ServerAddress}:5080");
    }

    [NetworkNamespaceFact]
    public async Task A_semicolon_list_is_checked_address_by_address_as_kestrel_reads_it()
    {
        // One --urls value holding two addresses: the first loopback, the second not. Kestrel listens on both.
        var remote = $"http://{Network.ServerAddress}:5891";
        await AssertRefusedAtStartAsync($"http://127.0.0.1:5890/;{remote}", remote);
    }

    public void Dispose()
    {
        try
        {
            _network?.Dispose();
        }
        finally
        {
            _workspace.Dispose();
        }
    }

    private async Task AssertRefusedAtStartAsync(string urls, string remote)
    {
        await using var serve = DistilProcess.StartIn(NetworkNamespaces.Exec(Network.Server), _workspace.Root, new Dictionary<string, string?>(), "serve", "--urls", urls);

        var exited = await serve.TryWaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exited == 2, $"serve --urls '{urls}' without a token {(exited is null ? "kept running" : $"exited {exited}")}:\n{serve.Output}");
        Assert.Contains("DISTIL_DASHBOARD_TOKEN", serve.Output);
        using var client = Network.CreateClient(remote);
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/"));
    }
}

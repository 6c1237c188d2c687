using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>A <c>distil serve</c> process on a free port, with an HTTP client for its API.</summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private ServeProcess(DistilProcess process, string url, string? token, NetworkNamespaces? network)
    {
        Process = process;
        Url = url;
        Network = network;
        Http = network?.CreateClient(url) ?? new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        // A script's client, like the CLI: marks its bodiless POSTs and DELETEs as not coming from a web page.
        Http.DefaultRequestHeaders.Add(Distil.Server.Security.CrossSiteGuard.ClientHeader, "test");
        if (token is not null)
        {
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public DistilProcess Process { get; }

    public string Url { get; }

    public HttpClient Http { get; }

    /// <summary>When set, serve runs in its server namespace and every client (Http, the CLI) in the client one.</summary>
    public NetworkNamespaces? Network { get; }

    public static async Task<ServeProcess> StartAsync(
        TestWorkspace workspace,
        string? postgres,
        int workers = 1,
        int shardSize = 25,
        string? token = null,
        double invisibilitySeconds = 3,
        bool postgresAsArgument = false,
        NetworkNamespaces? network = null,
        Dictionary<string, string?>? environment = null)
    {
        // Loopback on a port the server picks itself (a port chosen here and bound there could be taken in between by
        // another test's process), or the server namespace's own address (a fresh namespace has every port free).
        var requested = network is null ? "http://127.0.0.1:0" : $"http://{network.ServerAddress}:5080";
        environment = new Dictionary<string, string?>(environment ?? []) { ["DISTIL_DASHBOARD_TOKEN"] = token };
        var args = new List<string>
        {
            "serve", "--urls", requested, "--workers", workers.ToString(CultureInfo.InvariantCulture),
            "--shard-size", shardSize.ToString(CultureInfo.InvariantCulture),
            "--invisibility-timeout", invisibilitySeconds.ToString(CultureInfo.InvariantCulture),
            "--output", workspace.Outputs, "--work-dir", workspace.WorkDirectory("serve"),
            "--pipelines", Path.Combine(workspace.Root, "pipelines"),
        };
        if (postgres is not null && postgresAsArgument)
        {
            args.AddRange(["--postgres", postgres]);
        }
        else
        {
            environment["DISTIL_POSTGRES"] = postgres;
        }

        var process = DistilProcess.StartIn(network is null ? [] : NetworkNamespaces.Exec(network.Server), workspace.Root, environment, [.. args]);
        try
        {
            await process.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(60));
            return new ServeProcess(process, network is null ? ListeningUrl(process.Output) : requested, token, network);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>The address ASP.NET Core's lifetime log reports as bound ("Now listening on: http://127.0.0.1:PORT").</summary>
    private static string ListeningUrl(string output)
    {
        var match = System.Text.RegularExpressions.Regex.Match(output, @"Now listening on: (http://\S+)");
        return match.Success ? match.Groups[1].Value : throw new InvalidOperationException($"serve did not say where it listens. Output:\n{output}");
    }

    /// <summary>Submits through the real CLI (<c>distil submit</c>) and returns the run id it printed.</summary>
    public async Task<Guid> SubmitAsync(TestWorkspace workspace, string pipeline, int? shardSize = null, string? token = null)
    {
        var args = new List<string> { "submit", pipeline, "--server", Url };
        if (shardSize is { } size)
        {
            args.AddRange(["--shard-size", size.ToString(CultureInfo.InvariantCulture)]);
        }

        var (exit, output) = await DistilProcess.RunInAsync(ClientLauncher, workspace.Root, new Dictionary<string, string?> { ["DISTIL_DASHBOARD_TOKEN"] = token }, [.. args]);
        Assert.True(exit == 0, $"distil submit failed ({exit}): {output}");
        return Guid.Parse(output.Trim().Split('\n')[0].Trim());
    }

    /// <summary>How CLI clients of this server are started: in the client namespace when there is one.</summary>
    public IReadOnlyList<string> ClientLauncher => Network is null ? [] : NetworkNamespaces.Exec(Network.Client);

    public async Task<JsonElement> GetRunAsync(Guid id)
    {
        var text = await Http.GetStringAsync($"/api/runs/{id}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Polls the API until the run reaches <paramref name="state"/> (or any end state, which fails the wait if different).</summary>
    public async Task<JsonElement> WaitForStateAsync(Guid id, string state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var run = await GetRunAsync(id);
            var current = run.GetProperty("run").GetProperty("state").GetString();
            if (current == state)
            {
                return run;
            }

            if (current is "Succeeded" or "Failed" or "Cancelled" || DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"run {id} is {current}, expected {state}: {run}\nserve output:\n{Process.Output}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Polls until a condition on the run detail holds.</summary>
    public async Task<JsonElement> WaitUntilAsync(Guid id, Func<JsonElement, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var run = await GetRunAsync(id);
            if (condition(run))
            {
                return run;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"timed out waiting for {what}: {run}");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
    }
}

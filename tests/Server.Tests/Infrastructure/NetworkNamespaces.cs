using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>
/// Two network namespaces of the test's own (<c>distil-&lt;random&gt;-s</c> for the server, <c>-c</c> for the
/// client) joined by a veth pair, with addresses from 198.18.0.0/15 (the benchmarking range, never routed).
/// Every packet between them stays inside these namespaces: nothing reaches the machine's own interfaces.
/// Removing the namespaces removes the veth pair with them.
/// </summary>
public sealed class NetworkNamespaces : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly List<string> _created = [];

    private NetworkNamespaces(string id)
    {
        Server = $"distil-{id}-s";
        Client = $"distil-{id}-c";
    }

    public string Server { get; }

    public string Client { get; }

    /// <summary>Fixed: each pair of namespaces has its own network stack, so test runs side by side cannot clash.</summary>
    public IPAddress ServerAddress { get; } = IPAddress.Parse("198.18.0.1");

    public IPAddress ClientAddress { get; } = IPAddress.Parse("198.18.0.2");

    /// <summary>Why these tests cannot run here, or null when they can (root, or CI where they must).</summary>
    public static string? SkipReason =>
        IsRoot || string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
            ? null
            : "creating network namespaces needs root (CI runs as root; a local non-root run skips these tests)";

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>Creates both namespaces, the veth pair, addresses, and brings up every link (lo included).</summary>
    public static NetworkNamespaces Create()
    {
        var pair = new NetworkNamespaces(Guid.NewGuid().ToString("N")[..10]);
        try
        {
            pair.Build();
            return pair;
        }
        catch
        {
            pair.Dispose();
            throw;
        }
    }

    /// <summary>The prefix that runs a command inside <paramref name="name"/>.</summary>
    public static IReadOnlyList<string> Exec(string name) => ["ip", "netns", "exec", name];

    /// <summary>
    /// An HttpClient whose connections are made from the client namespace: each socket is created on a
    /// short-lived thread that first joins that namespace (setns), and a socket stays in the namespace it was
    /// created in. So the requests come from <see cref="ClientAddress"/>, not loopback, and never leave.
    /// </summary>
    public HttpClient CreateClient(string baseAddress, CookieContainer? cookies = null)
    {
        var handler = new SocketsHttpHandler
        {
            UseCookies = cookies is not null,
            CookieContainer = cookies ?? new CookieContainer(),
            AllowAutoRedirect = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = CreateSocketIn(Client, context.DnsEndPoint);
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri(baseAddress), Timeout = TimeSpan.FromSeconds(30) };
    }

    public void Dispose()
    {
        var failures = new List<string>();
        foreach (var name in Enumerable.Reverse(_created))
        {
            var (exit, output) = Run(["ip", "netns", "delete", name]);
            if (exit != 0)
            {
                failures.Add($"ip netns delete {name}: {output}");
            }
        }

        _created.Clear();
        if (failures.Count > 0)
        {
            throw new InvalidOperationException($"could not remove the test's network namespaces: {string.Join("; ", failures)}");
        }
    }

    private void Build()
    {
        foreach (var name in new[] { Server, Client })
        {
            Must(["ip", "netns", "add", name]);
            _created.Add(name);
            Must(["ip", "-n", name, "link", "set", "lo", "up"]);
        }

        // Both ends are created directly inside their namespaces; neither ever exists in the root namespace.
        Must(["ip", "link", "add", "veth-s", "netns", Server, "type", "veth", "peer", "name", "veth-c", "netns", Client]);
        Must(["ip", "-n", Server, "addr", "add", $"{ServerAddress}/30", "dev", "veth-s"]);
        Must(["ip", "-n", Client, "addr", "add", $"{ClientAddress}/30", "dev", "veth-c"]);
        Must(["ip", "-n", Server, "link", "set", "veth-s", "up"]);
        Must(["ip", "-n", Client, "link", "set", "veth-c", "up"]);
    }

    private static Socket CreateSocketIn(string name, DnsEndPoint target)
    {
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle(Path.Combine("/run/netns", name));
                if (SetNamespace((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new Win32Exception(Marshal.GetLastPInvokeError(), $"setns into network namespace {name}");
                }

                var family = IPAddress.TryParse(target.Host, out var address) ? address.AddressFamily : AddressFamily.InterNetwork;
                socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            }
            catch (Exception e)
            {
                error = e;
            }
        });

        // The thread ends inside the namespace; it is never reused, so no other work runs there by accident.
        thread.Start();
        thread.Join();
        return socket ?? throw new InvalidOperationException($"no socket in namespace {name}", error);
    }

    private static void Must(string[] command)
    {
        var (exit, output) = Run(command);
        if (exit != 0)
        {
            throw new InvalidOperationException(
                $"network namespace setup failed: '{string.Join(' ', command)}' exited {exit}: {output.Trim()} (these tests need root and iproute2)");
        }
    }

    private static (int Exit, string Output) Run(string[] command)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in command[1..])
        {
            info.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (Win32Exception e)
        {
            return (-1, $"cannot run {command[0]}: {e.Message}");
        }
    }

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNamespace(int fd, int namespaceType);
}

/// <summary>A fact that needs <see cref="NetworkNamespaces"/>: skipped (saying why) only on a local non-root run.</summary>
public sealed class NetworkNamespaceFactAttribute : FactAttribute
{
    public NetworkNamespaceFactAttribute()
    {
        if (NetworkNamespaces.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

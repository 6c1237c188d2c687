using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>
/// A real <c>dotnet distil.dll …</c> process (serve, worker, submit…) built from src/Cli, with its
/// output captured so that tests can read (and search) what it logged.
/// </summary>
public sealed class DistilProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private DistilProcess(Process process)
    {
        _process = process;
    }

    public static string CliPath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "distil.dll");
            return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: the test project references src/Cli, build it");
        }
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static DistilProcess Start(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        StartIn([], workingDirectory, environment, args);

    /// <summary>Starts the CLI behind <paramref name="launcher"/> (e.g. <c>ip netns exec &lt;name&gt;</c>), which must exec it in place.</summary>
    public static DistilProcess StartIn(IReadOnlyList<string> launcher, string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var info = new ProcessStartInfo(launcher.Count > 0 ? launcher[0] : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var part in launcher.Skip(1).Concat(launcher.Count > 0 ? ["dotnet"] : []))
        {
            info.ArgumentList.Add(part);
        }

        info.ArgumentList.Add(CliPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Nothing leaks in from the test runner's environment; each test says what the process gets.
        info.Environment.Remove("DISTIL_POSTGRES");
        info.Environment.Remove("DISTIL_DASHBOARD_TOKEN");
        info.Environment.Remove("DISTIL_SERVER");
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var wrapper = new DistilProcess(process);
        process.OutputDataReceived += (_, e) => wrapper.Append(e.Data);
        process.ErrorDataReceived += (_, e) => wrapper.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>Runs a command to its end (submit, schedule, runs…) and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        RunInAsync([], workingDirectory, environment, args);

    public static async Task<(int ExitCode, string Output)> RunInAsync(IReadOnlyList<string> launcher, string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        await using var process = StartIn(launcher, workingDirectory, environment, args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process._process.WaitForExitAsync(timeout.Token);
        process._process.WaitForExit(); // drains the redirected streams
        return (process._process.ExitCode, process.Output);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>The exit code, or null if the process is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> TryWaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            return await WaitForExitAsync(timeout);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until the output contains <paramref name="text"/> (e.g. Hangfire announcing its server).</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{text}' did not appear (exited: {_process.HasExited}). Output:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Kills the process outright, as a crash or an OOM kill would.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}

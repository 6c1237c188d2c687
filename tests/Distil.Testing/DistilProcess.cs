using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Distil.Testing;

/// <summary>
/// A real <c>dotnet distil.dll …</c> process (run, serve, worker, submit, publish…) built from src/Cli, with its
/// standard output and error captured apart and together, so that tests can read (and search) what it wrote.
/// </summary>
public sealed class DistilProcess : IDisposable, IAsyncDisposable
{
    /// <summary>Variables a developer's shell or CI may hold that would point a child at a real server, database or
    /// Hub account: never inherited; a test that wants one passes it.</summary>
    private static readonly string[] NotInherited = ["DISTIL_POSTGRES", "DISTIL_DASHBOARD_TOKEN", "DISTIL_SERVER", "HF_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT"];

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _output = new();

    private DistilProcess(Process process)
    {
        _process = process;
    }

    /// <summary>
    /// src/Cli's own build output (built with the tests, same configuration and framework). Not the copy beside the
    /// tests: a test project's own framework references (ASP.NET Core in the Hub tests) can leave a dependency of
    /// the CLI out of that folder.
    /// </summary>
    public static string CliPath
    {
        get
        {
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = framework.Parent!.Name;
            var path = Path.Combine(TestRepository.Root, "src", "Cli", "bin", configuration, framework.Name, "distil.dll");
            return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: build src/Cli ({configuration})");
        }
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Standard output and error as one text, line by line in the order they came.</summary>
    public string Output => Read(_output);

    public string Stdout => Read(_stdout);

    public string Stderr => Read(_stderr);

    public static DistilProcess Start(string workingDirectory, params string[] args) =>
        StartIn([], workingDirectory, new Dictionary<string, string?>(), args);

    /// <param name="environment">Variables set (or, when null, removed) for the child only.</param>
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

        foreach (var name in NotInherited)
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var wrapper = new DistilProcess(process);
        process.OutputDataReceived += (_, e) => wrapper.Append(wrapper._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => wrapper.Append(wrapper._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>Runs a command to its end (run, validate, submit, publish…).</summary>
    public static Task<DistilResult> RunAsync(string workingDirectory, params string[] args) =>
        RunInAsync([], workingDirectory, new Dictionary<string, string?>(), args);

    public static Task<DistilResult> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        RunInAsync([], workingDirectory, environment, args);

    public static async Task<DistilResult> RunInAsync(IReadOnlyList<string> launcher, string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        await using var process = StartIn(launcher, workingDirectory, environment, args);
        return await process.WaitAsync();
    }

    /// <summary>Waits for the process to end: ten minutes at most, so that a hung child fails its test instead of
    /// hanging the suite (a run that builds its models on a loaded machine takes minutes).</summary>
    public async Task<DistilResult> WaitAsync()
    {
        var exitCode = await WaitForExitAsync(TimeSpan.FromMinutes(10));
        return new DistilResult(exitCode, Stdout, Stderr, Output);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // drains the redirected streams
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

    /// <summary>Sends a POSIX signal (INT, TERM) the way a shell's Ctrl+C or <c>kill</c> does.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-s", name, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>SIGKILL, as a crash or an OOM kill would: no handler runs, nothing is flushed or cleaned up.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Read(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    private void Append(StringBuilder stream, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (stream)
        {
            stream.AppendLine(line);
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}

/// <summary>How a CLI command ended. Deconstructs as (exit code, output) or (exit code, stdout, stderr).</summary>
public sealed record DistilResult(int ExitCode, string Stdout, string Stderr, string Output)
{
    public void Deconstruct(out int exitCode, out string output)
    {
        exitCode = ExitCode;
        output = Output;
    }

    public void Deconstruct(out int exitCode, out string stdout, out string stderr)
    {
        exitCode = ExitCode;
        stdout = Stdout;
        stderr = Stderr;
    }
}

/// <summary>Loopback ports for servers a test starts (the OS picks one that is free now).</summary>
public static class LoopbackPort
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

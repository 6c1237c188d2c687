using System.Diagnostics;

namespace Distil.Pipeline.Tests;

/// <summary>The real CLI (distil.dll, built beside the tests) as a child process.</summary>
internal sealed class DistilProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    private DistilProcess(Process process)
    {
        _process = process;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public static DistilProcess Start(string workingDirectory, params string[] args) =>
        Start(workingDirectory, new Dictionary<string, string?>(), args);

    /// <param name="environment">Variables set (or, when null, removed) for the child only.</param>
    public static DistilProcess Start(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "distil.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new DistilProcess(Process.Start(info)!);
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, params string[] args)
    {
        using var process = Start(workingDirectory, args);
        return await process.WaitAsync();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL: no handler runs, nothing is flushed or cleaned up.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    public async Task<(int ExitCode, string Stdout, string Stderr)> WaitAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await _process.WaitForExitAsync(timeout.Token);
        return (_process.ExitCode, await _stdout, await _stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}

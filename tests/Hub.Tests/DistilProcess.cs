using System.Diagnostics;

namespace Distil.Hub.Tests;

/// <summary>Runs the distil command line as a real process, in the test's folder, with no Hub token in its environment.</summary>
internal static class DistilProcess
{
    /// <summary>
    /// src/Cli's own build output (built with the tests, same configuration). Not the copy beside the tests: this
    /// project's ASP.NET Core framework reference leaves Microsoft.Extensions.Logging.Abstractions out of that folder.
    /// </summary>
    private static string CliPath
    {
        get
        {
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = framework.Parent!.Name;
            var root = framework.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
            var path = Path.Combine(root, "src", "Cli", "bin", configuration, framework.Name, "distil.dll");
            return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: build src/Cli ({configuration})");
        }
    }

    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(TestHub hub, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = hub.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(CliPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var variable in new[] { "HF_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT" })
        {
            start.Environment.Remove(variable);
        }

        start.Environment["HF_HOME"] = Path.Combine(hub.Folder, "hf-home");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }
}

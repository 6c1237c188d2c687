using System.Globalization;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>Starts <c>distil worker</c> processes, each with its own scratch folder as if on its own machine.</summary>
public static class WorkerProcess
{
    /// <param name="workingDirectory">The process's current directory (default: the workspace root, where the data is).</param>
    /// <param name="extraArgs">More options for <c>distil worker</c>.</param>
    public static async Task<DistilProcess> StartAsync(TestWorkspace workspace, string postgres, string name, double invisibilitySeconds = 3, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null, params string[] extraArgs)
    {
        var process = DistilProcess.Start(workingDirectory ?? workspace.Root, new Dictionary<string, string?>(environment ?? new Dictionary<string, string?>()) { ["DISTIL_POSTGRES"] = postgres },
            ["worker", "--invisibility-timeout", invisibilitySeconds.ToString(CultureInfo.InvariantCulture),
            "--work-dir", workspace.WorkDirectory(name), "--output", workspace.Outputs, .. extraArgs]);
        await process.WaitForOutputAsync("all the dispatchers started", TimeSpan.FromSeconds(60));
        return process;
    }

    /// <summary>The name shard records carry for a process (machine:pid).</summary>
    public static string NameOf(DistilProcess process) => $"{Environment.MachineName}:{process.Id}";
}

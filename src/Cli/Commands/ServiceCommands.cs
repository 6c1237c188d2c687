using System.CommandLine;

namespace Distil.Cli.Commands;

/// <summary>The commands serve, submit, schedule, worker, runs (issue 5).</summary>
internal static class ServiceCommands
{
    public static IEnumerable<Command> Create() => [];
}

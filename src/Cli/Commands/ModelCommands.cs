using System.CommandLine;

namespace Distil.Cli.Commands;

/// <summary>The commands models build, generate (issue 3).</summary>
internal static class ModelCommands
{
    public static IEnumerable<Command> Create() => [];
}

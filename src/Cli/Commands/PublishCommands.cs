using System.CommandLine;

namespace Distil.Cli.Commands;

/// <summary>The commands publish (issue 6).</summary>
internal static class PublishCommands
{
    public static IEnumerable<Command> Create() => [];
}

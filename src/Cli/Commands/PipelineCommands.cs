using System.CommandLine;

namespace Distil.Cli.Commands;

/// <summary>The commands run, validate (issue 2).</summary>
internal static class PipelineCommands
{
    public static IEnumerable<Command> Create() => [];
}

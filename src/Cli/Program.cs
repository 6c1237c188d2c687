using System.CommandLine;
using Distil.Cli;
using Distil.Cli.Commands;

var root = new RootCommand("Distil: declarative pipelines that make preference datasets (prompt / chosen / rejected) with local or remote models.");
foreach (var command in PipelineCommands.Create()
             .Concat(ModelCommands.Create())
             .Concat(ServiceCommands.Create())
             .Concat(PublishCommands.Create()))
{
    root.Subcommands.Add(command);
}

// The CLI handles SIGINT/SIGTERM itself (TerminationSignals); System.CommandLine's own handler stays off.
using var signals = new TerminationSignals();
var exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, signals.Token);
return signals.ExitCode != 0 && exitCode == TerminationSignals.InterruptedExitCode ? signals.ExitCode : exitCode;

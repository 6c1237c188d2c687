using Distil.Cli;

// The CLI handles SIGINT/SIGTERM itself (TerminationSignals); System.CommandLine's own handler stays off.
using var signals = new TerminationSignals();
var exitCode = await DistilCli.InvokeAsync(args, cancellationToken: signals.Token);
return signals.ExitCode != 0 && exitCode == ExitCodes.Interrupted ? signals.ExitCode : exitCode;

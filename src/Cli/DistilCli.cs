using System.CommandLine;
using Distil.Cli.Commands;

namespace Distil.Cli;

/// <summary>
/// The distil command line as one call, so that tests drive it in-process with their own writers. Usage mistakes
/// exit 2; an exception no command expected is one line on stderr plus a log file with the trace (exit 1), never a
/// raw stack trace on the terminal.
/// </summary>
internal static class DistilCli
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Distil: declarative pipelines that make preference datasets (prompt / chosen / rejected) with local or remote models.");
        foreach (var command in PipelineCommands.Create()
                     .Concat(ModelCommands.Create())
                     .Concat(ServiceCommands.Create())
                     .Concat(PublishCommands.Create()))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    public static Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default) =>
        InvokeAsync(Create(), args, output, error, cancellationToken);

    public static async Task<int> InvokeAsync(RootCommand root, string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors)
            {
                await error.WriteLineAsync($"distil: {problem.Message}");
            }

            await error.WriteLineAsync("(distil --help lists the commands; distil COMMAND --help their options)");
            return ExitCodes.InvalidInput;
        }

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null, Output = output, Error = error }, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            var log = CrashLog.Write(e, args);
            var message = e.Message.Split('\n')[0];
            await error.WriteLineAsync($"distil: unexpected error ({e.GetType().Name}: {(message.Length > 300 ? message[..300] + "…" : message)}); the details are in {log}");
            return ExitCodes.RunFailed;
        }
    }
}

using System.CommandLine;
using Distil.Cli.Commands;

namespace Distil.Hub.Tests;

/// <summary>Runs <c>distil publish …</c> in-process with captured stdout and stderr.</summary>
internal static class CliRunner
{
    public static async Task<(int ExitCode, string Output, string Error)> PublishAsync(params string[] args)
    {
        var root = new RootCommand("distil");
        foreach (var command in PublishCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await root.Parse(["publish", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }
}

/// <summary>Tests that set HF_* environment variables run one at a time.</summary>
[CollectionDefinition("HF environment", DisableParallelization = true)]
public sealed class HubEnvironmentCollection;

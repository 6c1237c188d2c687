using System.CommandLine;
using Distil.Cli.Commands;

var root = new RootCommand("Distil: declarative pipelines that make preference datasets (prompt / chosen / rejected) with local or remote models.");
foreach (var command in PipelineCommands.Create()
             .Concat(ModelCommands.Create())
             .Concat(ServiceCommands.Create())
             .Concat(PublishCommands.Create()))
{
    root.Subcommands.Add(command);
}

return await root.Parse(args).InvokeAsync();

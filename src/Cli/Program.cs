using Distil.Cli;

return await DistilCli.InvokeAsync(args);

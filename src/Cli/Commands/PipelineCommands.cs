using System.CommandLine;
using Distil.Pipeline;
using Distil.Steps;
using Spectre.Console;

namespace Distil.Cli.Commands;

/// <summary>The commands run, validate and steps.</summary>
internal static class PipelineCommands
{
    public const int Ok = 0;
    public const int RunFailed = 1;
    public const int InvalidInput = 2;
    public const int Cancelled = 130;

    public static IEnumerable<Command> Create() => [Run(), Validate(), Steps()];

    private static Command Run()
    {
        var pipeline = new Argument<FileInfo>("pipeline") { Description = "The pipeline definition (JSON)." };
        var limit = new Option<long?>("--limit") { Description = "Read only the first N input rows." };
        var output = new Option<DirectoryInfo?>("--output", "-o") { Description = "Folder for the datasets written by sinks (default outputs/<pipeline>)." };
        var fresh = new Option<bool>("--fresh") { Description = "Ignore batches cached by an earlier run and compute everything again." };
        var runs = new Option<DirectoryInfo?>("--runs") { Description = "Root of the run directories (default ./runs)." };
        var command = new Command("run", "Run a pipeline; a rerun of the same definition on the same data resumes where it stopped.")
        {
            pipeline, limit, output, fresh, runs,
        };
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var file = result.GetValue(pipeline)!;
            if (result.GetValue(limit) is < 0)
            {
                Console.Error.WriteLine("--limit must not be negative");
                return InvalidInput;
            }

            PipelineDefinition definition;
            try
            {
                definition = PipelineDefinition.Load(file.FullName, BuiltInSteps.CreateRegistry());
            }
            catch (PipelineDefinitionException e)
            {
                Console.Error.WriteLine($"invalid pipeline: {e.Message}");
                return InvalidInput;
            }

            var options = new RunOptions
            {
                Range = new SourceRange(0, result.GetValue(limit)),
                RunsRoot = result.GetValue(runs)?.FullName ?? "runs",
                OutputDirectory = result.GetValue(output)?.FullName,
                Fresh = result.GetValue(fresh),
                Models = new ModelCatalog(),
            };
            return await RunAsync(definition, options, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(PipelineDefinition definition, RunOptions options, CancellationToken cancellationToken)
    {
        var runner = new PipelineRunner();
        var interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        try
        {
            var manifest = interactive
                ? await PipelineProgress.ShowAsync(definition, progress => runner.RunAsync(definition, options with { Progress = progress }, cancellationToken))
                : await runner.RunAsync(definition, options with { Progress = new PlainProgress(Console.Out) }, cancellationToken);
            PrintSummary(manifest);
            return Ok;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine("cancelled; finished batches are kept and the next run resumes from them");
            return Cancelled;
        }
        catch (PipelineDefinitionException e)
        {
            Console.Error.WriteLine($"invalid input: {e.Message}");
            return InvalidInput;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"run failed: {e.Message}");
            return RunFailed;
        }
    }

    private static void PrintSummary(RunManifest manifest)
    {
        Console.WriteLine($"run {manifest.Status}: {manifest.Pipeline} ({manifest.Fingerprint}) in {(manifest.FinishedAt - manifest.StartedAt)?.TotalSeconds:F1}s");
        foreach (var step in manifest.Steps)
        {
            var dropped = step.Dropped.Count == 0 ? string.Empty : $", dropped {string.Join(", ", step.Dropped.Select(d => $"{d.Key} {d.Value}"))}";
            var cached = step.CachedBatches == 0 ? string.Empty : $", {step.CachedBatches} batches from cache";
            var tokens = step.InputTokens + step.OutputTokens == 0 ? string.Empty : $", tokens {step.InputTokens} in / {step.OutputTokens} out";
            Console.WriteLine($"  {step.Name}: {step.RowsIn} in, {step.RowsOut} out, {step.Errors} errors{dropped}{cached}{tokens}");
        }

        foreach (var file in manifest.OutputFiles)
        {
            Console.WriteLine($"  wrote {file}");
        }

        Console.WriteLine($"  run directory {manifest.RunDirectory}");
    }

    private static Command Validate()
    {
        var pipeline = new Argument<FileInfo>("pipeline") { Description = "The pipeline definition (JSON)." };
        var command = new Command("validate", "Check a pipeline definition (steps, parameters, graph, columns, input files) without running it.") { pipeline };
        command.SetAction((ParseResult result) =>
        {
            try
            {
                var definition = PipelineDefinition.Load(result.GetValue(pipeline)!.FullName, BuiltInSteps.CreateRegistry());
                Console.WriteLine($"{definition.File}: pipeline '{definition.Name}' is valid ({definition.Steps.Count} steps)");
                foreach (var step in definition.Steps)
                {
                    var after = step.After.Count == 0 ? string.Empty : $" after {string.Join(", ", step.After)}";
                    var columns = step.ColumnsOut is null ? "columns known when it runs" : string.Join(", ", step.ColumnsOut);
                    Console.WriteLine($"  {step.Name} ({step.Type.Name}){after} → {columns}");
                }

                return Ok;
            }
            catch (PipelineDefinitionException e)
            {
                Console.Error.WriteLine($"invalid pipeline: {e.Message}");
                return InvalidInput;
            }
        });
        return command;
    }

    private static Command Steps()
    {
        var command = new Command("steps", "List the step types a pipeline can use.");
        command.SetAction((ParseResult _) =>
        {
            foreach (var type in BuiltInSteps.CreateRegistry().Types)
            {
                var parameters = type.Parameters.Count == 0 ? string.Empty : $" [{string.Join(", ", type.Parameters)}]";
                Console.WriteLine($"{type.Name}{parameters}\n    {type.Description}");
            }

            return Ok;
        });
        return command;
    }
}

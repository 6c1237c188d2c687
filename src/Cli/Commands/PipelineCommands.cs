using System.CommandLine;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;
using Spectre.Console;

namespace Distil.Cli.Commands;

/// <summary>The commands run, validate, steps and estimate.</summary>
internal static class PipelineCommands
{
    public static IEnumerable<Command> Create() => [Run(), Validate(), Steps(), Estimate()];

    private static Command Run()
    {
        var pipeline = new Argument<FileInfo>("pipeline") { Description = "The pipeline definition (JSON)." };
        var limit = new Option<long?>("--limit") { Description = "Read only the first N input rows." };
        var output = new Option<DirectoryInfo?>("--output", "-o") { Description = "Folder for the datasets written by sinks (default outputs/<pipeline>)." };
        var fresh = new Option<bool>("--fresh") { Description = "Ignore batches cached by an earlier run and compute everything again." };
        var plan = new Option<bool>("--plan") { Description = "Print, per step, the batches the run would reuse from the cache and those it would compute; run nothing." };
        var runs = new Option<DirectoryInfo?>("--runs") { Description = "Root of the run directories (default ./runs)." };
        var hubEndpoint = new Option<string?>("--hub-endpoint") { Description = "Hub that load_hub reads from (overrides the step's endpoint and HF_ENDPOINT), e.g. a mirror or a local Hub." };
        var hubCache = new Option<DirectoryInfo?>("--hub-cache") { Description = "Download cache of load_hub (default ~/.cache/distil/hub; a step's cache_dir wins)." };
        var budget = new Option<decimal?>("--budget-usd") { Description = "Stop cleanly once the models' tokens have cost this many US dollars (at their \"price\"); overrides the definition's budget_usd. Exit code 3; a rerun with a higher budget resumes." };
        var command = new Command("run", "Run a pipeline; a rerun of the same definition on the same data resumes where it stopped.")
        {
            pipeline, limit, output, fresh, runs, plan, hubEndpoint, hubCache, budget,
        };
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var file = result.GetValue(pipeline)!;
            var error = result.InvocationConfiguration.Error;
            if (result.GetValue(limit) is < 0)
            {
                error.WriteLine("--limit must not be negative");
                return ExitCodes.InvalidInput;
            }

            if (result.GetValue(budget) is <= 0)
            {
                error.WriteLine("--budget-usd must be a positive number of US dollars");
                return ExitCodes.InvalidInput;
            }

            PipelineDefinition definition;
            try
            {
                var hub = new HubSourceSettings { Endpoint = result.GetValue(hubEndpoint), CacheDirectory = result.GetValue(hubCache)?.FullName };
                definition = PipelineDefinition.Load(file.FullName, BuiltInSteps.CreateRegistry(hub));
            }
            catch (PipelineDefinitionException e)
            {
                error.WriteLine($"invalid pipeline: {e.Message}");
                return ExitCodes.InvalidInput;
            }

            var options = new RunOptions
            {
                Range = new SourceRange(0, result.GetValue(limit)),
                RunsRoot = result.GetValue(runs)?.FullName ?? "runs",
                OutputDirectory = result.GetValue(output)?.FullName,
                Fresh = result.GetValue(fresh),
                Plan = result.GetValue(plan),
                BudgetUsd = result.GetValue(budget),
                Models = new ModelCatalog(),
            };
            return options.Plan ? await PlanAsync(definition, options, result.InvocationConfiguration.Output, error, cancellationToken) : await RunAsync(definition, options, result.InvocationConfiguration.Output, error, cancellationToken);
        });
        return command;
    }

    private static Task<int> RunAsync(PipelineDefinition definition, RunOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken) =>
        ReportFailuresAsync("run", error, async () =>
        {
            var runner = new PipelineRunner();
            var interactive = output == Console.Out && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            var manifest = interactive
                ? await PipelineProgress.ShowAsync(definition, progress => runner.RunAsync(definition, options with { Progress = progress }, cancellationToken))
                : await runner.RunAsync(definition, options with { Progress = new PlainProgress(output) }, cancellationToken);
            PrintSummary(manifest, output);
            return ExitCodes.Ok;
        }, cancellationToken);

    private static readonly System.Text.Json.JsonSerializerOptions IndentedJson = new(SnakeCaseJson.Options) { WriteIndented = true };

    /// <summary>A run's (or a plan's) failures as exit codes: interrupted 130, invalid input 2, anything else 1.</summary>
    private static async Task<int> ReportFailuresAsync(string what, TextWriter error, Func<Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error.WriteLine("cancelled; finished batches are kept and the next run resumes from them");
            return ExitCodes.Interrupted;
        }
        catch (PipelineDefinitionException e)
        {
            error.WriteLine($"invalid input: {e.Message}");
            return ExitCodes.InvalidInput;
        }
        catch (BudgetReachedException e)
        {
            error.WriteLine($"stopped: {e.Message}");
            return ExitCodes.BudgetReached;
        }
        catch (Exception e)
        {
            error.WriteLine($"{what} failed: {e.Message}");
            return ExitCodes.RunFailed;
        }
    }

    private static Task<int> PlanAsync(PipelineDefinition definition, RunOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken) =>
        ReportFailuresAsync("plan", error, async () =>
        {
            PrintPlan(await new PipelineRunner().RunAsync(definition, options, cancellationToken), output);
            return ExitCodes.Ok;
        }, cancellationToken);

    private static void PrintPlan(RunManifest plan, TextWriter output)
    {
        output.WriteLine($"plan for {plan.Pipeline} (run {plan.Fingerprint}); nothing was run");
        foreach (var step in plan.Steps)
        {
            var work = step.CacheKey is null
                ? "not cached (cheap; runs every time)"
                : $"{step.CachedBatches} batches reusable, {step.ComputedBatches} to compute (key {step.CacheKey[..12]})";
            output.WriteLine($"  {step.Name}: {work}");
        }

        foreach (var model in plan.Models)
        {
            output.WriteLine($"  model {model.Name}: sha256 {model.Digest[..16]} ({model.Description})");
        }
    }

    private static void PrintSummary(RunManifest manifest, TextWriter output)
    {
        output.WriteLine($"run {manifest.Status}: {manifest.Pipeline} ({manifest.Fingerprint}) in {(manifest.FinishedAt - manifest.StartedAt)?.TotalSeconds:F1}s");
        foreach (var step in manifest.Steps)
        {
            var dropped = step.Dropped.Count == 0 ? string.Empty : $", dropped {string.Join(", ", step.Dropped.Select(d => $"{d.Key} {d.Value}"))}";
            var cached = step.CacheKey is null ? string.Empty : $", {step.CachedBatches} batches from cache, {step.ComputedBatches} computed";
            var tokens = step.InputTokens + step.OutputTokens == 0 ? string.Empty : $", tokens {step.InputTokens} in / {step.OutputTokens} out";
            var cost = step.CostUsd is { } usd ? $", ${Dollars(usd)} ({step.Model})" : string.Empty;
            output.WriteLine($"  {step.Name}: {step.RowsIn} in, {step.RowsOut} out, {step.Errors} errors{dropped}{cached}{tokens}{cost}");
        }

        if (manifest.CostUsd is { } total)
        {
            var budget = manifest.BudgetUsd is { } limit ? $" of a ${Dollars(limit)} budget" : string.Empty;
            output.WriteLine($"  cost ${Dollars(total)}{budget}, every row answered counted (dropped ones too)");
        }

        foreach (var file in manifest.OutputFiles)
        {
            output.WriteLine($"  wrote {file}");
        }

        output.WriteLine($"  run directory {manifest.RunDirectory}");
    }

    private static string Dollars(decimal usd) => usd.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture);

    private static Command Estimate()
    {
        var pipeline = new Argument<FileInfo>("pipeline") { Description = "The pipeline definition (JSON)." };
        var sample = new Option<long>("--sample") { Description = "Rows to run for real, from the start of the input (default 50).", DefaultValueFactory = _ => 50 };
        var json = new Option<bool>("--json") { Description = "Print the estimate as JSON." };
        var command = new Command("estimate", "Run the first rows in a scratch folder and project tokens, money and time for the whole input.") { pipeline, sample, json };
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            var output = result.InvocationConfiguration.Output;
            if (result.GetValue(sample) < 1)
            {
                error.WriteLine("--sample must be at least 1");
                return ExitCodes.InvalidInput;
            }

            PipelineDefinition definition;
            try
            {
                definition = PipelineDefinition.Load(result.GetValue(pipeline)!.FullName, BuiltInSteps.CreateRegistry());
            }
            catch (PipelineDefinitionException e)
            {
                error.WriteLine($"invalid pipeline: {e.Message}");
                return ExitCodes.InvalidInput;
            }

            // Not the run folder: a sample's batches must never be taken for the run's own.
            var scratch = Path.Combine(Path.GetTempPath(), $"distil-estimate-{Environment.ProcessId}-{Guid.NewGuid():N}");
            try
            {
                return await ReportFailuresAsync("estimate", error, async () =>
                {
                    var estimate = await RunEstimate.MeasureAsync(definition, new RunOptions { Models = new ModelCatalog() }, result.GetValue(sample), scratch, cancellationToken);
                    if (result.GetValue(json))
                    {
                        output.WriteLine(System.Text.Json.JsonSerializer.Serialize(estimate, IndentedJson));
                    }
                    else
                    {
                        PrintEstimate(definition.Name, estimate, output);
                    }

                    return ExitCodes.Ok;
                }, cancellationToken);
            }
            finally
            {
                if (Directory.Exists(scratch))
                {
                    Directory.Delete(scratch, recursive: true);
                }
            }
        });
        return command;
    }

    private static void PrintEstimate(string pipeline, RunEstimate estimate, TextWriter output)
    {
        var of = estimate.InputRows is { } rows ? $"of {rows:N0} input rows" : "the input cannot be counted, so nothing is projected";
        output.WriteLine($"estimate for {pipeline}: a sample of {estimate.SampleRows:N0} rows ({of}) ran in {estimate.SampleElapsed.TotalSeconds:F1}s");
        foreach (var step in estimate.Steps)
        {
            var projected = step.ProjectedInputTokens is { } i ? $" → projected {i:N0} in / {step.ProjectedOutputTokens:N0} out" : string.Empty;
            var cost = step.ProjectedCostUsd is { } usd ? $", ${Dollars(decimal.Round(usd, 6))}" : string.Empty;
            output.WriteLine($"  {step.Name}{(step.Model is null ? string.Empty : $" ({step.Model})")}: sample {step.SampleInputTokens:N0} in / {step.SampleOutputTokens:N0} out{projected}{cost}");
        }

        if (estimate.InputRows is not null)
        {
            var money = estimate.ProjectedCostUsd is { } total ? $", ${Dollars(decimal.Round(total, 6))}" : " (no model has a price)";
            output.WriteLine($"  whole input: {estimate.ProjectedInputTokens:N0} input / {estimate.ProjectedOutputTokens:N0} output tokens{money}, about {estimate.ProjectedElapsed:hh\\:mm\\:ss}");
        }
    }

    private static Command Validate()
    {
        var pipeline = new Argument<FileInfo>("pipeline") { Description = "The pipeline definition (JSON)." };
        var command = new Command("validate", "Check a pipeline definition (steps, parameters, graph, columns, input files) without running it.") { pipeline };
        command.SetAction((ParseResult result) =>
        {
            var output = result.InvocationConfiguration.Output;
            try
            {
                var definition = PipelineDefinition.Load(result.GetValue(pipeline)!.FullName, BuiltInSteps.CreateRegistry());
                output.WriteLine($"{definition.File}: pipeline '{definition.Name}' is valid ({definition.Steps.Count} steps)");
                foreach (var step in definition.Steps)
                {
                    var after = step.After.Count == 0 ? string.Empty : $" after {string.Join(", ", step.After)}";
                    var columns = step.ColumnsOut is null ? "columns known when it runs" : string.Join(", ", step.ColumnsOut);
                    output.WriteLine($"  {step.Name} ({step.Type.Name}){after} → {columns}");
                }

                return ExitCodes.Ok;
            }
            catch (PipelineDefinitionException e)
            {
                result.InvocationConfiguration.Error.WriteLine($"invalid pipeline: {e.Message}");
                return ExitCodes.InvalidInput;
            }
        });
        return command;
    }

    private static Command Steps()
    {
        var command = new Command("steps", "List the step types a pipeline can use.");
        command.SetAction((ParseResult result) =>
        {
            foreach (var type in BuiltInSteps.CreateRegistry().Types)
            {
                var parameters = type.Parameters.Count == 0 ? string.Empty : $" [{string.Join(", ", type.Parameters)}]";
                result.InvocationConfiguration.Output.WriteLine($"{type.Name}{parameters}\n    {type.Description}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}

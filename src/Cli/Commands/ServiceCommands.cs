using System.CommandLine;
using System.Globalization;
using Distil.Pipeline;
using Distil.Server;
using Distil.Server.Api;
using Distil.Server.Client;
using Distil.Server.Hosting;

namespace Distil.Cli.Commands;

/// <summary>The commands serve, worker, submit, schedule, runs, cancel.</summary>
internal static class ServiceCommands
{
    public static IEnumerable<Command> Create() => [Serve(), Worker(), Submit(), Schedule(), Runs(), Cancel()];

    private static Command Serve()
    {
        var postgres = PostgresOption();
        var urls = new Option<string[]>("--urls")
        {
            Description = "Addresses to listen on (loopback only unless DISTIL_DASHBOARD_TOKEN is set)",
            DefaultValueFactory = _ => ["http://127.0.0.1:5080"],
            AllowMultipleArgumentsPerToken = true,
        };
        var pipelines = new Option<DirectoryInfo>("--pipelines") { Description = "Folder whose definitions with \"schedule\" become recurring runs", DefaultValueFactory = _ => new DirectoryInfo("pipelines") };
        var worker = WorkerOptions();
        var command = new Command("serve", "Run the dashboard, the API and a Hangfire server (Postgres with --postgres, else in memory)") { postgres, urls, pipelines };
        worker.AddTo(command);
        command.SetAction((result, ct) => Guard(async () =>
        {
            var options = worker.Read(result, result.GetValue(postgres)) with
            {
                Urls = result.GetValue(urls)!.SelectMany(u => u.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(),
                PipelinesDirectory = result.GetValue(pipelines)?.FullName,
                DashboardToken = Environment.GetEnvironmentVariable(ServiceOptions.TokenVariable),
            };
            await ServiceHost.RunServeAsync(options, ct);
        }));
        return command;
    }

    private static Command Worker()
    {
        var postgres = PostgresOption();
        var worker = WorkerOptions();
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Answer Prometheus scrapes at http://127.0.0.1:PORT/metrics (loopback only; default: none, OTLP only)" };
        var command = new Command("worker", "Take shards from the Postgres queue shared with 'serve' (any machine)") { postgres, metricsPort };
        worker.AddTo(command);
        command.SetAction((result, ct) => Guard(() =>
        {
            if (result.GetValue(metricsPort) is { } port && port is < 1 or > 65535)
            {
                throw new ServiceConfigurationException($"--metrics-port: {port} is not a TCP port (1–65535)");
            }

            return ServiceHost.RunWorkerAsync(worker.Read(result, result.GetValue(postgres)) with { MetricsPort = result.GetValue(metricsPort) }, ct);
        }));
        return command;
    }

    private static Command Submit()
    {
        var pipeline = new Argument<FileInfo>("pipeline") { Description = "The pipeline definition (JSON)" };
        var server = ServerOption();
        var shardSize = new Option<int?>("--shard-size") { Description = "Input rows per shard (default: the server's)" };
        var wait = new Option<bool>("--wait") { Description = "Wait for the run to finish; exit code 0 only if it succeeded" };
        var command = new Command("submit", "Enqueue a run on a Distil server; prints its id") { pipeline, server, shardSize, wait };
        command.SetAction((result, ct) => Guard(async () =>
        {
            // The same validation the server runs, here, so a bad definition exits 2 with no server involved.
            PipelineDefinition.Load(result.GetValue(pipeline)!.FullName, Distil.Steps.BuiltInSteps.CreateRegistry());
            using var client = new ServiceClient(result.GetValue(server), null);
            var submitted = await client.SubmitAsync(result.GetValue(pipeline)!.FullName, result.GetValue(shardSize), ct);
            Console.WriteLine(submitted.Id);
            return result.GetValue(wait) ? await WaitAsync(client, submitted.Id, ct) : ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Schedule()
    {
        var pipeline = new Argument<FileInfo?>("pipeline") { Description = "The pipeline definition (JSON)", Arity = ArgumentArity.ZeroOrOne };
        var cron = new Option<string?>("--cron") { Description = "Cron expression, UTC (5 fields, or 6 with seconds)" };
        var id = new Option<string?>("--id") { Description = "Recurring job id (default: the pipeline name)" };
        var remove = new Option<string?>("--remove") { Description = "Remove the schedule with this id instead of registering one" };
        var server = ServerOption();
        var shardSize = new Option<int?>("--shard-size") { Description = "Input rows per shard" };
        var command = new Command("schedule", "Register a recurring run on a Distil server (or remove one with --remove)") { pipeline, cron, id, remove, server, shardSize };
        command.SetAction((result, ct) => Guard(async () =>
        {
            if (result.GetValue(remove) is { } removed)
            {
                using var remover = new ServiceClient(result.GetValue(server), null);
                await remover.RemoveScheduleAsync(removed, ct);
                Console.WriteLine($"removed {removed}");
                return;
            }

            if (result.GetValue(pipeline) is not { } file || result.GetValue(cron) is not { } expression)
            {
                throw new ServiceConfigurationException("schedule needs a pipeline and --cron (or --remove <id>)");
            }

            if (CronSchedule.Problem(expression) is { } badCron)
            {
                throw new ServiceConfigurationException($"--cron {PipelineDefinitionException.Quote(expression)} is not a cron expression ({badCron}); use 5 fields (e.g. \"0 3 * * *\") or 6 with seconds first");
            }

            // The same validation the server runs, here, so a bad definition exits 2 with no server involved.
            PipelineDefinition.Load(file.FullName, Distil.Steps.BuiltInSteps.CreateRegistry());
            using var client = new ServiceClient(result.GetValue(server), null);
            var scheduled = await client.ScheduleAsync(file.FullName, expression, result.GetValue(id), result.GetValue(shardSize), ct);
            Console.WriteLine(scheduled.Id);
        }));
        return command;
    }

    private static Command Runs()
    {
        var server = ServerOption();
        var command = new Command("runs", "List runs on a Distil server with their state and progress") { server };
        command.SetAction((result, ct) => Guard(async () =>
        {
            using var client = new ServiceClient(result.GetValue(server), null);
            var runs = await client.ListRunsAsync(ct);
            Console.WriteLine($"{"ID",-36}  {"PIPELINE",-24}  {"STATE",-10}  {"PROGRESS",8}  {"ROWS",15}  CREATED (UTC)");
            foreach (var run in runs)
            {
                var rows = $"{run.RowsDone}/{run.RowsTotal?.ToString(CultureInfo.InvariantCulture) ?? "?"}";
                Console.WriteLine(FormattableString.Invariant(
                    $"{run.Id,-36}  {Trim(run.Pipeline, 24),-24}  {run.State,-10}  {run.Progress,8:P0}  {rows,15}  {run.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}"));
            }
        }));
        return command;
    }

    private static Command Cancel()
    {
        var id = new Argument<Guid>("run") { Description = "The run id (from submit or runs)" };
        var server = ServerOption();
        var command = new Command("cancel", "Cancel a run: queued shards are skipped, running ones stop") { id, server };
        command.SetAction((result, ct) => Guard(async () =>
        {
            using var client = new ServiceClient(result.GetValue(server), null);
            await client.CancelAsync(result.GetValue(id), ct);
            Console.WriteLine($"cancelled {result.GetValue(id)}");
        }));
        return command;
    }

    private static async Task<int> WaitAsync(ServiceClient client, Guid id, CancellationToken cancellationToken)
    {
        while (true)
        {
            var run = await client.GetRunAsync(id, cancellationToken);
            if (run.State is "Succeeded" or "Failed" or "Cancelled")
            {
                Console.WriteLine($"{run.State}{(run.Output is null ? "" : $": {run.Output}")}{(run.Error is null ? "" : $": {run.Error}")}");
                return run.State == "Succeeded" ? ExitCodes.Ok : run.State == "Cancelled" ? ExitCodes.Interrupted : ExitCodes.RunFailed;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static string Trim(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";

    private static Option<string?> PostgresOption() => new("--postgres")
    {
        Description = $"Npgsql connection string for Hangfire and run history (or set {ServiceOptions.PostgresVariable}); without it, serve keeps everything in memory",
    };

    private static Option<string?> ServerOption() => new("--server")
    {
        Description = $"The Distil server (default: {ServiceClient.ServerVariable} or {ServiceClient.DefaultServer})",
    };

    private static WorkerOptionSet WorkerOptions() => new();

    /// <summary>Runs a command body, turning the errors a user can fix into one line on stderr and exit code 2.</summary>
    private static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is ServiceConfigurationException or PipelineDefinitionException)
        {
            await Console.Error.WriteLineAsync($"distil: {e.Message}");
            return ExitCodes.InvalidInput;
        }
    }

    private static Task<int> Guard(Func<Task> body) => Guard(async () => { await body(); return ExitCodes.Ok; });

    /// <summary>Options shared by serve and worker.</summary>
    private sealed class WorkerOptionSet
    {
        private readonly Option<int> _workers = new("--workers") { Description = "Shards this process runs at once (serve --workers 0: dashboard and API only)", DefaultValueFactory = _ => 1 };
        private readonly Option<double> _invisibility = new("--invisibility-timeout")
        {
            Description = "Seconds before a shard whose worker stopped heart-beating is taken by another worker",
            DefaultValueFactory = _ => 300,
        };
        private readonly Option<DirectoryInfo> _output = new("--output") { Description = "Where merged datasets go (outputs/<pipeline>/<run>/)", DefaultValueFactory = _ => new DirectoryInfo("outputs") };
        private readonly Option<DirectoryInfo> _work = new("--work-dir") { Description = "Local scratch for shards", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("runs", "service")) };
        private readonly Option<int> _shardSize = new("--shard-size") { Description = "Default input rows per shard", DefaultValueFactory = _ => 500 };
        private readonly Option<string> _otlp = new("--otlp-endpoint") { Description = "Push metrics over OTLP to this URL (default: OTEL_EXPORTER_OTLP_ENDPOINT; none when unset)" };

        public void AddTo(Command command)
        {
            command.Options.Add(_workers);
            command.Options.Add(_invisibility);
            command.Options.Add(_output);
            command.Options.Add(_work);
            command.Options.Add(_shardSize);
            command.Options.Add(_otlp);
        }

        public ServiceOptions Read(ParseResult result, string? postgres)
        {
            var connection = string.IsNullOrWhiteSpace(postgres) ? Environment.GetEnvironmentVariable(ServiceOptions.PostgresVariable) : postgres;
            var invisibility = result.GetValue(_invisibility);
            if (invisibility <= 0 || result.GetValue(_workers) < 0 || result.GetValue(_shardSize) < 1)
            {
                throw new ServiceConfigurationException("--invisibility-timeout and --shard-size must be positive, --workers at least 0");
            }

            return new ServiceOptions
            {
                PostgresConnectionString = string.IsNullOrWhiteSpace(connection) ? null : connection,
                Workers = result.GetValue(_workers),
                InvisibilityTimeout = TimeSpan.FromSeconds(invisibility),
                OutputDirectory = result.GetValue(_output)!.FullName,
                WorkDirectory = result.GetValue(_work)!.FullName,
                ShardSize = result.GetValue(_shardSize),
                OtlpEndpoint = ServiceMetrics.ReadOtlpEndpoint(result.GetValue(_otlp)),
            };
        }
    }
}

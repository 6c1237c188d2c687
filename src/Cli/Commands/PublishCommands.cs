using System.CommandLine;
using Distil.Hub;
using Microsoft.Extensions.Logging;

namespace Distil.Cli.Commands;

/// <summary>The commands publish: <c>distil publish RUN_FOLDER --repo user/name [--private] [--endpoint URL] [--to-dir DIR]</c>.</summary>
internal static class PublishCommands
{
    public static IEnumerable<Command> Create()
    {
        var folder = new Argument<string>("run-folder")
        {
            Description = "A run folder (runs/<pipeline>/<fingerprint>) or any folder with the dataset's Parquet (and README.md, pipeline.json)",
        };
        var repo = new Option<string?>("--repo") { Description = "Dataset repository on the Hub, namespace/name (e.g. my-user/my-dpo-set)" };
        var isPrivate = new Option<bool>("--private") { Description = "Create the repository as private (an existing repository keeps its visibility)" };
        var endpoint = new Option<string>("--endpoint")
        {
            Description = "Base URL of the Hub or of another Hub-compatible server (default $HF_ENDPOINT, else https://huggingface.co)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } e ? e : PublishOptions.DefaultEndpoint,
        };
        var toDir = new Option<string?>("--to-dir") { Description = "Write the repository's files to this folder (new, empty, or an earlier export, which is replaced) instead of uploading, for air-gapped use" };
        var message = new Option<string?>("--message", "-m") { Description = "Commit message" };
        var maxRows = new Option<int>("--max-rows-per-row-group")
        {
            Description = "Re-split Parquet row groups larger than this (the dataset viewer pages by row group)",
            DefaultValueFactory = _ => 100_000,
        };

        var publish = new Command("publish", "Publish a run's dataset to the Hugging Face Hub: Parquet shards under data/, the dataset card, the pipeline definition, in one commit. The token comes from HF_TOKEN or the Hugging Face token file.")
        {
            folder, repo, isPrivate, endpoint, toDir, message, maxRows,
        };
        publish.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var options = new PublishOptions
            {
                Repo = parse.GetValue(repo),
                Private = parse.GetValue(isPrivate),
                Endpoint = parse.GetValue(endpoint)!,
                ToDirectory = parse.GetValue(toDir),
                CommitMessage = parse.GetValue(message),
                MaxRowsPerRowGroup = parse.GetValue(maxRows),
                Logger = new WriterLogger(error),
            };
            if (options.Repo is null && options.ToDirectory is null)
            {
                await error.WriteLineAsync("distil publish: give --repo namespace/name (upload) or --to-dir DIR (write the files to a folder)");
                return ExitCodes.InvalidInput;
            }

            if (options.MaxRowsPerRowGroup < 1)
            {
                await error.WriteLineAsync("distil publish: --max-rows-per-row-group must be at least 1");
                return ExitCodes.InvalidInput;
            }

            if (options.Repo is not null && HubRepoId.Problem(options.Repo) is { } badRepo)
            {
                await error.WriteLineAsync($"distil publish: {badRepo}");
                return ExitCodes.InvalidInput;
            }

            if (!Directory.Exists(parse.GetValue(folder)))
            {
                await error.WriteLineAsync($"distil publish: {Path.GetFullPath(parse.GetValue(folder)!)}: no such folder (expected a run folder such as runs/<pipeline>/<fingerprint>)");
                return ExitCodes.InvalidInput;
            }

            try
            {
                var source = DatasetSource.FromFolder(parse.GetValue(folder)!);
                PublishResult result;
                if (Distil.Steps.ReviewLog.FindFile(source) is { } logFile && Distil.Steps.ReviewLog.ReadFile(logFile) is { Count: > 0 } log)
                {
                    // People's flips and rejections (the dashboard's review log) apply to what is published, never to the run's files.
                    await using var reviewed = await Distil.Steps.ReviewedDataset.PrepareAsync(source, log, cancellationToken);
                    var counts = reviewed.Counts;
                    await error.WriteLineAsync($"Applying the review log {logFile}: {counts.Reviewed} rows reviewed, {counts.Flipped} flipped, {counts.Rejected} rejected");
                    result = await HubPublisher.PublishAsync(reviewed.Source, options, cancellationToken);
                }
                else
                {
                    result = await HubPublisher.PublishAsync(source, options, cancellationToken);
                }

                if (options.ToDirectory is not null)
                {
                    await output.WriteLineAsync($"Wrote {result.Files.Count} files to {Path.GetFullPath(options.ToDirectory)}:");
                }
                else
                {
                    await output.WriteLineAsync($"Published {result.Files.Count} files to {result.RepoUrl}");
                    await output.WriteLineAsync($"  LFS: {result.LfsBytesUploaded:N0} bytes uploaded, {result.LfsFilesSkipped} file(s) already on the Hub");
                    if (result.CommitUrl is not null)
                    {
                        await output.WriteLineAsync($"  commit: {result.CommitUrl}");
                    }
                }

                foreach (var file in result.Files)
                {
                    await output.WriteLineAsync($"  {file.PathInRepo}");
                }

                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is HubPublishException or InvalidDataException)
            {
                await error.WriteLineAsync($"distil publish: {e.Message}");
                return ExitCodes.RunFailed;
            }
        });
        return [publish];
    }

    /// <summary>Progress and retry notices on the error stream, one line each, so that stdout stays the result.</summary>
    private sealed class WriterLogger(TextWriter writer) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lock (writer)
                {
                    writer.WriteLine((logLevel >= LogLevel.Warning ? "warning: " : "") + formatter(state, exception));
                }
            }
        }
    }
}

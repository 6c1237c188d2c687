using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Pipeline.Runtime;

/// <summary>What every node of one run shares.</summary>
internal sealed class RunContext(RunOptions options, string runDirectory, string outputDirectory, IReadOnlyDictionary<string, IChatClient> models)
{
    /// <summary>The pipeline's name: the cache of its steps' batches lives under it.</summary>
    public required string Pipeline { get; init; }

    /// <summary><see cref="StepCacheKey"/> of each caching step.</summary>
    public required IReadOnlyDictionary<string, string> StepKeys { get; init; }

    /// <summary>The identity of every model of the definition (manifest, dataset card).</summary>
    public IReadOnlyList<ModelIdentity> ModelIdentities { get; init; } = [];

    public string CacheDirectory(string stepName) => BatchCache.DirectoryFor(Options.RunsRoot, Pipeline, stepName);

    private readonly ILoggerFactory _loggers = options.LoggerFactory ?? NullLoggerFactory.Instance;

    public RunOptions Options { get; } = options;

    public string RunDirectory { get; } = runDirectory;

    public string OutputDirectory { get; } = outputDirectory;

    public IProgress<StepProgress>? Progress => Options.Progress;

    public long? RowsTotal { get; set; }

    /// <summary>Every step's counts so far (set once the network is built; sinks read it as they complete).</summary>
    public Func<IReadOnlyList<StepMetrics>> StepMetrics { get; set; } = () => [];

    /// <summary>Cancelled when the user cancels or any step fails.</summary>
    public CancellationToken CancellationToken { get; init; }

    public StepContext CreateContext(string stepName) =>
        new(stepName, _loggers.CreateLogger($"Distil.Step.{stepName}"), RunDirectory, models);
}

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

    /// <summary>The <c>price</c> of each model that has one.</summary>
    public IReadOnlyDictionary<string, ModelPrice> Prices { get; init; } = new Dictionary<string, ModelPrice>();

    /// <summary>Money spent so far, checked against the budget as tokens are reported.</summary>
    public RunSpend Spend { get; init; } = new(null, () => { });

    /// <summary>The live figures of the model <paramref name="step"/> calls, when its client keeps them (served models).</summary>
    public ModelActivity? ActivityOf(StepDefinition step) =>
        step.Model is { } model && models.TryGetValue(model, out var client) ? client.GetService<IModelActivity>()?.Activity() : null;

    public ModelPrice? PriceOf(StepDefinition step) => step.Model is { } model ? Prices.GetValueOrDefault(model) : null;

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

    /// <summary>A context whose token reports are also charged, live, to the run's spend at <paramref name="price"/>.</summary>
    public StepContext CreateContext(string stepName, ModelPrice? price = null) =>
        new(stepName, _loggers.CreateLogger($"Distil.Step.{stepName}"), RunDirectory, models, price is null ? null : (input, output) => Spend.Add(price.Cost(input, output)));
}

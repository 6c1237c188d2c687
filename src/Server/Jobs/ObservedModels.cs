using System.Collections.Concurrent;
using System.Diagnostics;
using Distil.Pipeline;
using Distil.Server.Storage;
using Microsoft.Extensions.AI;

namespace Distil.Server.Jobs;

/// <summary>
/// The shard's model provider, keeping hold of each served model's <see cref="IModelActivity"/> as it is opened, so the
/// shard's watcher can read the figures live (requests in flight now) rather than as the last step report left them.
/// </summary>
internal sealed class ObservedModels(IModelProvider inner) : IModelProvider
{
    private readonly ConcurrentDictionary<string, IModelActivity> _served = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public async ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, CancellationToken cancellationToken)
    {
        var client = await inner.OpenAsync(name, definition, cancellationToken);
        if (client.GetService<IModelActivity>() is { } activity)
        {
            _served[name] = activity;
        }

        return client;
    }

    public void CheckBeforeOpening(PipelineDefinition definition) => inner.CheckBeforeOpening(definition);

    public ValueTask<ModelIdentity> IdentifyAsync(string name, StepParameters definition, CancellationToken cancellationToken) =>
        inner.IdentifyAsync(name, definition, cancellationToken);

    /// <summary>Each served model's figures now, with the shard's time so far.</summary>
    public IReadOnlyList<ShardModelActivity> Now(int shard)
    {
        var seconds = _clock.Elapsed.TotalSeconds;
        return _served.Select(m => new ShardModelActivity(shard, m.Key, m.Value.Activity(), seconds)).ToList();
    }
}

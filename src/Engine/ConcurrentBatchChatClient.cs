using Microsoft.Extensions.AI;

namespace Distil.Engine;

/// <summary>
/// Gives any <see cref="IChatClient"/> the batch interface by issuing the requests concurrently, at most
/// <c>maxConcurrency</c> at a time: what remote endpoints (vLLM, TGI) need to batch on their side.
/// </summary>
public sealed class ConcurrentBatchChatClient(IChatClient inner, int maxConcurrency) : IBatchChatClient
{
    private readonly int _maxConcurrency = maxConcurrency > 0 ? maxConcurrency : throw new ArgumentOutOfRangeException(nameof(maxConcurrency));

    /// <summary>The client's own batch path when it has one, otherwise concurrent single calls.</summary>
    public static IBatchChatClient For(IChatClient client, int maxConcurrency) =>
        client.GetService<IBatchChatClient>() ?? new ConcurrentBatchChatClient(client, maxConcurrency);

    public async Task<IReadOnlyList<BatchChatResult>> GetResponsesAsync(IReadOnlyList<BatchChatRequest> requests, CancellationToken cancellationToken = default)
    {
        var results = new BatchChatResult[requests.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, requests.Count),
            new ParallelOptions { MaxDegreeOfParallelism = _maxConcurrency, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                try
                {
                    results[i] = BatchChatResult.Ok(await inner.GetResponseAsync(requests[i].Messages, requests[i].Options, ct).ConfigureAwait(false));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    results[i] = BatchChatResult.Failed(e.Message);
                }
            }).ConfigureAwait(false);
        return results;
    }
}

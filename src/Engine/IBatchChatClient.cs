using Microsoft.Extensions.AI;

namespace Distil.Engine;

/// <summary>
/// The throughput path next to <see cref="IChatClient"/>: many conversations submitted together so that
/// the engine can batch them (continuous batching, shared-prefix reuse). Obtain it from any chat client with
/// <c>client.GetService&lt;IBatchChatClient&gt;()</c>; clients without it (remote endpoints) are driven
/// through <see cref="ConcurrentBatchChatClient"/> instead.
/// </summary>
public interface IBatchChatClient
{
    /// <summary>
    /// Runs every request; results come back in request order. A request that cannot be served
    /// (prompt longer than the context, say) yields a result with <see cref="BatchChatResult.Error"/> set
    /// instead of failing the others.
    /// </summary>
    Task<IReadOnlyList<BatchChatResult>> GetResponsesAsync(IReadOnlyList<BatchChatRequest> requests, CancellationToken cancellationToken = default);
}

/// <summary>One conversation with its own options (seed, sampling, response format).</summary>
public sealed record BatchChatRequest(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options = null);

/// <summary>A response, or the reason there is none.</summary>
public sealed record BatchChatResult(ChatResponse? Response, string? Error)
{
    public static BatchChatResult Ok(ChatResponse response) => new(response, null);

    public static BatchChatResult Failed(string error) => new(null, error);
}

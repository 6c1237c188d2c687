using System.ClientModel;
using System.Net;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// Retries a remote model's transient failures (HTTP 429 and 5xx, dropped connections, cut-off bodies, timeouts) with
/// exponential backoff and jitter, honouring the server's Retry-After (seconds or an HTTP date). Other failures (400, 401, a bad model
/// name) surface at once: retrying them only wastes the quota.
/// </summary>
public sealed class RetryingChatClient(IChatClient inner, int maxRetries, TimeSpan baseDelay) : DelegatingChatClient(inner)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var conversation = messages as IReadOnlyCollection<ChatMessage> ?? messages.ToList();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await base.GetResponseAsync(conversation, options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < maxRetries && IsTransient(e, cancellationToken))
            {
                await Task.Delay(DelayFor(e, attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether trying again later may succeed.</summary>
    public static bool IsTransient(Exception e, CancellationToken callerToken) => e switch
    {
        ClientResultException { Status: 408 or 429 or >= 500 } => true,
        ClientResultException { Status: 0 } => true,
        HttpRequestException { StatusCode: null or HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout or >= HttpStatusCode.InternalServerError } => true,
        OperationCanceledException when !callerToken.IsCancellationRequested => true,
        IOException => true,
        // A body cut short by a dropped connection reaches the SDK as empty or truncated JSON.
        System.Text.Json.JsonException => true,
        _ => false,
    };

    private TimeSpan DelayFor(Exception e, int attempt)
    {
        if (e is ClientResultException result
            && result.GetRawResponse()?.Headers.TryGetValue(RateLimitHeaders.RetryAfterName, out var retryAfter) == true
            && RateLimitHeaders.RetryAfter(retryAfter, DateTimeOffset.UtcNow) is { } wait)
        {
            return wait < MaxDelay ? wait : MaxDelay;
        }

        var exponential = baseDelay.TotalMilliseconds * Math.Pow(2, attempt);
        var jittered = exponential * (0.5 + Random.Shared.NextDouble() / 2);
        return TimeSpan.FromMilliseconds(Math.Min(jittered, MaxDelay.TotalMilliseconds));
    }
}

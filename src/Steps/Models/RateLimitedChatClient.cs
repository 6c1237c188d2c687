using System.ClientModel.Primitives;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// Sends each request to a served model only when its <see cref="ServedRateLimit"/> allows, and reports the tokens
/// the response used. It sits closest to the wire (inside the concurrency limit and the retries) so that every
/// attempt, retries included, is counted at the moment it is sent.
/// </summary>
public sealed class RateLimitedChatClient(IChatClient inner, ServedRateLimit limit) : DelegatingChatClient(inner)
{
    /// <summary>Characters per token when estimating a request before it is sent (English text, BPE vocabularies).</summary>
    private const int CharactersPerToken = 4;

    public ServedRateLimit Limit { get; } = limit;

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var conversation = messages as IReadOnlyCollection<ChatMessage> ?? messages.ToList();
        var estimate = Estimate(conversation, options);
        await Limit.WaitAsync(estimate, cancellationToken).ConfigureAwait(false);
        long? used = null;
        try
        {
            var response = await base.GetResponseAsync(conversation, options, cancellationToken).ConfigureAwait(false);
            used = response.Usage?.TotalTokenCount ?? (response.Usage?.InputTokenCount + response.Usage?.OutputTokenCount);
            return response;
        }
        finally
        {
            Limit.Complete(estimate, used);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var conversation = messages as IReadOnlyCollection<ChatMessage> ?? messages.ToList();
        var estimate = Estimate(conversation, options);
        await Limit.WaitAsync(estimate, cancellationToken).ConfigureAwait(false);
        long? used = null;
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(conversation, options, cancellationToken).ConfigureAwait(false))
            {
                foreach (var usage in update.Contents.OfType<UsageContent>())
                {
                    used = usage.Details.TotalTokenCount ?? (usage.Details.InputTokenCount + usage.Details.OutputTokenCount);
                }

                yield return update;
            }
        }
        finally
        {
            Limit.Complete(estimate, used);
        }
    }

    /// <summary>What a request will count against a tokens-per-minute limit: its text and the output it may produce.</summary>
    public static long Estimate(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        long characters = 0;
        foreach (var message in messages)
        {
            characters += message.Text.Length;
        }

        return ((characters + CharactersPerToken - 1) / CharactersPerToken) + (options?.MaxOutputTokens ?? 0);
    }
}

/// <summary>Feeds every response's rate-limit headers (errors included) to the model's <see cref="ServedRateLimit"/>.</summary>
internal sealed class RateLimitHeaderPolicy(ServedRateLimit limit) : PipelinePolicy
{
    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        ProcessNext(message, pipeline, currentIndex);
        Observe(message);
    }

    public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        await ProcessNextAsync(message, pipeline, currentIndex).ConfigureAwait(false);
        Observe(message);
    }

    private void Observe(PipelineMessage message)
    {
        if (message.Response?.Headers is not { } headers)
        {
            return;
        }

        string? Read(string name) => headers.TryGetValue(name, out var value) ? value : null;
        limit.Observe(
            RateLimitHeaders.RetryAfter(Read(RateLimitHeaders.RetryAfterName), DateTimeOffset.UtcNow),
            RateLimitHeaders.Count(Read(RateLimitHeaders.RemainingRequests)),
            RateLimitHeaders.Duration(Read(RateLimitHeaders.ResetRequests)),
            RateLimitHeaders.Count(Read(RateLimitHeaders.RemainingTokens)),
            RateLimitHeaders.Duration(Read(RateLimitHeaders.ResetTokens)));
    }
}

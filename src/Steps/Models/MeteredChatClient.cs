using Distil.Engine;
using Distil.Pipeline.Telemetry;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// Measures a model on the "Distil" meter: requests, failures, tokens in and out, requests in flight and
/// tokens/s, tagged with the model's name and the step calling it. Keeps the inner client's batch path: when the
/// inner client batches, so does this one (measured per batch); otherwise steps issue single calls through it.
/// </summary>
public sealed class MeteredChatClient(IChatClient inner, string model) : DelegatingChatClient(inner), IBatchChatClient
{
    private readonly IBatchChatClient? _batches = inner.GetService<IBatchChatClient>();

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var tags = DistilMetrics.ModelTags(model);
        DistilMetrics.ActiveRequests.Add(1, tags);
        try
        {
            var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            Record(response, tags);
            return response;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            DistilMetrics.ModelErrors.Add(1, tags);
            throw;
        }
        finally
        {
            DistilMetrics.ActiveRequests.Add(-1, tags);
        }
    }

    public async Task<IReadOnlyList<BatchChatResult>> GetResponsesAsync(IReadOnlyList<BatchChatRequest> requests, CancellationToken cancellationToken = default)
    {
        var tags = DistilMetrics.ModelTags(model);
        DistilMetrics.ActiveRequests.Add(requests.Count, tags);
        try
        {
            var results = await _batches!.GetResponsesAsync(requests, cancellationToken).ConfigureAwait(false);
            foreach (var result in results)
            {
                if (result.Response is { } response)
                {
                    Record(response, tags);
                }
                else
                {
                    DistilMetrics.ModelErrors.Add(1, tags);
                }
            }

            return results;
        }
        finally
        {
            DistilMetrics.ActiveRequests.Add(-requests.Count, tags);
        }
    }

    /// <summary>This client as the batch path only when the inner client has one, so steps fall back to single calls through it otherwise.</summary>
    public override object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(IBatchChatClient) && serviceKey is null
            ? (_batches is null ? null : this)
            : base.GetService(serviceType, serviceKey);

    private void Record(ChatResponse response, System.Diagnostics.TagList tags)
    {
        DistilMetrics.ModelRequests.Add(1, tags);
        var input = response.Usage?.InputTokenCount ?? 0;
        var output = response.Usage?.OutputTokenCount ?? 0;
        if (input > 0)
        {
            var inputTags = tags;
            inputTags.Add("direction", "input");
            DistilMetrics.Tokens.Add(input, inputTags);
        }

        if (output > 0)
        {
            var outputTags = tags;
            outputTags.Add("direction", "output");
            DistilMetrics.Tokens.Add(output, outputTags);
            DistilMetrics.AddGeneratedTokens(model, output);
        }
    }
}

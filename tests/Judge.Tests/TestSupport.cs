using System.Text.Json;
using Distil.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Judge.Tests;

/// <summary>An IStepContext that records what a step reports, for tests that drive a step directly.</summary>
internal sealed class RecordingStepContext(IReadOnlyDictionary<string, IChatClient> models) : IStepContext
{
    public string StepName => "test";

    public ILogger Logger => NullLogger.Instance;

    public string RunDirectory => Path.GetTempPath();

    public Dictionary<long, string> Errors { get; } = [];

    public Dictionary<string, long> Dropped { get; } = [];

    public long InputTokens { get; private set; }

    public long OutputTokens { get; private set; }

    public IChatClient GetModel(string modelName) => models[modelName];

    public void RecordRowError(Row row, string message)
    {
        row[Row.ErrorColumn] = message;
        Errors[row.Id] = message;
    }

    public void CountDropped(string reason, long count = 1) => Dropped[reason] = Dropped.GetValueOrDefault(reason) + count;

    public Dictionary<string, long> Tallies { get; } = [];

    public void Tally(string name, long count = 1) => Tallies[name] = Tallies.GetValueOrDefault(name) + count;

    public void AddTokens(long inputTokens, long outputTokens)
    {
        InputTokens += inputTokens;
        OutputTokens += outputTokens;
    }
}

/// <summary>
/// A chat client whose answer is a function of the request: stands in for a remote judge or generator where a
/// test needs a specific (often malformed) answer that no real model can be made to give on demand.
/// </summary>
internal sealed class ScriptedChatClient(Func<IReadOnlyList<ChatMessage>, ChatOptions?, string> answer, string modelId = "scripted") : IChatClient
{
    public List<(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options)> Requests { get; } = [];

    /// <summary>The requests whose last message contains <paramref name="text"/>: steps send their calls concurrently,
    /// so a row's requests are found by what they show, not by the order they arrived in.</summary>
    public List<(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options)> RequestsShowing(string text) =>
        Requests.Where(r => r.Messages[^1].Text.Contains(text, StringComparison.Ordinal)).ToList();

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        lock (Requests)
        {
            Requests.Add((list, options));
        }

        var text = answer(list, options);
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = modelId,
            Usage = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 3 },
        });
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("scripted", null, modelId) : null;

    public void Dispose()
    {
    }
}

internal static class Steps
{
    public static readonly StepRegistry Registry = Distil.Steps.BuiltInSteps.CreateRegistry();

    /// <summary>Builds a step from a JSON object as it would appear in a definition's <c>steps</c>.</summary>
    public static IStep Create(string json)
    {
        var element = JsonDocument.Parse(json).RootElement.Clone();
        var parameters = new StepParameters(element, "$.steps[0]", "test.json", _ => 1);
        Assert.True(Registry.TryGet(element.GetProperty("type").GetString()!, out var type));
        return type.Create(parameters);
    }

    public static Row Row(long id, params (string Column, object? Value)[] values) =>
        new(id, values.Select(v => new KeyValuePair<string, object?>(v.Column, v.Value)));

    public static IReadOnlyList<object?> List(params object?[] values) => values;
}

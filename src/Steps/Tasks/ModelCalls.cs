using Distil.Engine;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>One request of a model task, made on behalf of <paramref name="Row"/>.</summary>
public sealed record ModelRequest(Row Row, IReadOnlyList<ChatMessage> Messages, ChatOptions Options);

/// <summary>The answer to a <see cref="ModelRequest"/>: a response, or why there is none.</summary>
public sealed record ModelReply(Row Row, ChatResponse? Response, string? Error)
{
    public string Text => Response?.Text ?? string.Empty;
}

/// <summary>
/// A model task's access to its model during one batch. Requests go out together (the local engine batches them;
/// remote endpoints get up to <c>max_concurrency</c> concurrent calls); each reply's tokens count towards the step's
/// metrics and towards the token columns of the row it was made for (<see cref="TokenColumns"/>), which every row
/// sent a request carries, summed over all its requests (zero where every call failed).
/// </summary>
public sealed class ModelCalls
{
    private readonly string _step;
    private readonly int _maxConcurrency;
    private IChatClient? _client;

    internal ModelCalls(string step, string model, int maxConcurrency, IStepContext context)
    {
        _step = step;
        Model = model;
        _maxConcurrency = maxConcurrency;
        Context = context;
    }

    /// <summary>The key in the definition's <c>models</c>.</summary>
    public string Model { get; }

    public IStepContext Context { get; }

    /// <summary>The model's chat client (opened on first use).</summary>
    public IChatClient Client => _client ??= Context.GetModel(Model);

    /// <summary>The name the model reports for itself, else its key: what output columns record.</summary>
    public string ModelId => Client.GetService<ChatClientMetadata>()?.DefaultModelId ?? Model;

    /// <summary>Sends every request together; replies come back in request order.</summary>
    public async Task<IReadOnlyList<ModelReply>> SendAsync(IReadOnlyList<ModelRequest> requests, CancellationToken cancellationToken)
    {
        if (requests.Count == 0)
        {
            return [];
        }

        var batch = requests.Select(r => new BatchChatRequest(r.Messages, r.Options)).ToList();
        var results = await ConcurrentBatchChatClient.For(Client, _maxConcurrency).GetResponsesAsync(batch, cancellationToken).ConfigureAwait(false);
        var replies = new ModelReply[results.Count];
        for (var i = 0; i < results.Count; i++)
        {
            var row = requests[i].Row;
            var (input, output) = results[i].Response is { } response ? TokenUsage.Of(response) : (0, 0);
            Context.AddTokens(input, output);
            row[TokenColumns.Input(_step)] = (row[TokenColumns.Input(_step)] as long? ?? 0) + input;
            row[TokenColumns.Output(_step)] = (row[TokenColumns.Output(_step)] as long? ?? 0) + output;
            replies[i] = new ModelReply(row, results[i].Response, results[i].Response is null ? results[i].Error ?? "the model returned no response" : null);
        }

        return replies;
    }

    /// <summary>Marks <paramref name="row"/> failed with a message that starts with the step's name.</summary>
    public void Fail(Row row, string message) => Context.RecordRowError(row, $"{_step}: {message}");
}

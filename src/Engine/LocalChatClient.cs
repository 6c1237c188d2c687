using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Distil.Engine.Generation;
using Distil.Engine.Model;
using Distil.Engine.Onnx;
using Distil.Engine.Text;
using Distil.Engine.Text.Tokenizers;
using Microsoft.Extensions.AI;

namespace Distil.Engine;

/// <summary>
/// A local ONNX model as an <see cref="IChatClient"/>: the chat template and tokenizer turn messages into
/// tokens, the model's continuous-batching scheduler generates, and text streams back as tokens decode.
/// Every call — single, streaming or the batch interface (<see cref="IBatchChatClient"/>, also available via
/// <c>GetService</c>) — goes through the same scheduler, so concurrent callers are batched together.
/// Thread-safe; disposing stops the scheduler and releases the sessions.
/// </summary>
public sealed class LocalChatClient : IChatClient, IBatchChatClient, IAsyncDisposable
{
    private const int DefaultMaxOutputTokens = 512;

    private readonly OnnxCausalLM _model;
    private readonly GenerationScheduler _scheduler;
    private readonly IChatTemplate _template;
    private readonly IReadOnlySet<int> _stopIds;
    private readonly ChatClientMetadata _metadata;
    private int _disposed;
    private Task _released = Task.CompletedTask;

    private LocalChatClient(string folder, OnnxCausalLM model, ModelTokenizer tokenizer, IChatTemplate template, LocalModelOptions options)
    {
        Folder = folder;
        _model = model;
        Tokenizer = tokenizer;
        _template = template;
        ModelId = options.ModelId ?? new DirectoryInfo(folder).Name;
        _metadata = new ChatClientMetadata("distil-onnx", new Uri(Path.GetFullPath(folder)), ModelId);
        _stopIds = StopIds(folder, model.Config, tokenizer);
        _scheduler = new GenerationScheduler(model, new SchedulerOptions
        {
            MaxBatchSize = options.MaxBatchSize,
            Continuous = options.ContinuousBatching,
            PrefixCacheBytes = options.PrefixCacheBytes,
            KvCapacityChunk = options.KvCapacityChunk,
        });
    }

    public string Folder { get; }

    public string ModelId { get; }

    public DecoderConfig Config => _model.Config;

    /// <summary>The ONNX file this client runs (the chosen variant).</summary>
    public string ModelFile => _model.ModelFile;

    public ModelTokenizer Tokenizer { get; }

    public SchedulerStatistics Statistics => _scheduler.Statistics;

    /// <summary>Token ids that end generation: generation_config.json's eos list, config.json's, the tokenizer's,
    /// and the Llama 3 end-of-turn / end-of-message tokens when the vocabulary has them.</summary>
    public IReadOnlySet<int> StopTokenIds => _stopIds;

    internal static LocalChatClient Open(string folder, LocalModelOptions options)
    {
        if (!Directory.Exists(folder))
        {
            throw new ModelFormatException(folder, "model folder not found");
        }

        if (options.MaxBatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxBatchSize must be at least 1");
        }

        if (options.KvCapacityChunk < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "KvCapacityChunk must be 0 (a growing cache) or more");
        }

        var device = ExecutionDevice.Parse(options.Device);
        var tokenizer = ModelTokenizer.Load(folder);
        var template = ChatTemplates.ForModel(folder, options.ChatTemplate, options.ChatTemplateKwargs);
        var model = OnnxCausalLM.Load(folder, device, options.Threads, options.Variant);
        if (tokenizer.VocabularySize > model.VocabSize)
        {
            model.Dispose();
            throw new ModelFormatException(model.ModelFile, $"the graph's vocabulary is {model.VocabSize} but the tokenizer ({tokenizer.SourceFile}) has {tokenizer.VocabularySize} tokens");
        }

        return new LocalChatClient(folder, model, tokenizer, template, options);
    }

    /// <summary>The chat template in use (the model's own, or a built-in).</summary>
    public IChatTemplate ChatTemplate => _template;

    /// <summary>
    /// The prompt text a conversation becomes: the chat template with the generation prompt and <paramref name="options"/>' tools;
    /// with <see cref="FinalMessageContinuation.OptionKey"/> set, the prompt ends inside the final message instead.
    /// </summary>
    /// <exception cref="Text.Jinja.JinjaTemplateException">The template failed (its own raise_exception included).</exception>
    public string RenderPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        return FinalMessageContinuation.IsRequested(options)
            ? FinalMessageContinuation.Render(_template, list, options?.Tools)
            : _template.Render(list, addGenerationPrompt: true, options?.Tools);
    }

    /// <summary>The prompt tokens a conversation becomes (<see cref="RenderPrompt"/>, then the tokenizer).</summary>
    public int[] Tokenize(IEnumerable<ChatMessage> messages, ChatOptions? options = null) =>
        Tokenizer.Encode(RenderPrompt(messages, options), parseSpecialTokens: true);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (request, handler) = Prepare(messages, options, streaming: false, cancellationToken);
        var outcome = await _scheduler.Submit(request).ConfigureAwait(false);
        return Response(outcome, handler.FinalText());
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var (request, handler) = Prepare(messages, options, streaming: true, abandon.Token);
        var responseId = Guid.NewGuid().ToString("N");
        var completion = _scheduler.Submit(request);
        _ = completion.ContinueWith(_ => handler.CompleteStream(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await foreach (var delta in handler.Stream.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, delta) { ModelId = ModelId, ResponseId = responseId, MessageId = responseId };
            }

            var outcome = await completion.ConfigureAwait(false);
            var tail = handler.FinalTextTail();
            yield return new ChatResponseUpdate(ChatRole.Assistant, [.. string.IsNullOrEmpty(tail) ? Array.Empty<AIContent>() : [new TextContent(tail)], new UsageContent(Usage(outcome))])
            {
                ModelId = ModelId,
                ResponseId = responseId,
                MessageId = responseId,
                FinishReason = FinishReason(outcome),
                RawRepresentation = Raw(outcome),
            };
        }
        finally
        {
            // A consumer that stops early frees the sequence's slot.
            await abandon.CancelAsync().ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<BatchChatResult>> GetResponsesAsync(IReadOnlyList<BatchChatRequest> requests, CancellationToken cancellationToken = default)
    {
        var pending = new (Task<GenerationOutcome>? Task, ChatSequenceHandler? Handler, string? Error)[requests.Count];
        for (var i = 0; i < requests.Count; i++)
        {
            try
            {
                var (request, handler) = Prepare(requests[i].Messages, requests[i].Options, streaming: false, cancellationToken);
                pending[i] = (_scheduler.Submit(request), handler, null);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or TokenizerFormatException or Text.Jinja.JinjaTemplateException or Text.Constraints.JsonSchemaNotSupportedException)
            {
                pending[i] = (null, null, e.Message);
            }
        }

        var results = new BatchChatResult[requests.Count];
        for (var i = 0; i < requests.Count; i++)
        {
            var (task, handler, error) = pending[i];
            if (task is null)
            {
                results[i] = BatchChatResult.Failed(error!);
                continue;
            }

            try
            {
                results[i] = BatchChatResult.Ok(Response(await task.ConfigureAwait(false), handler!.FinalText()));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                results[i] = BatchChatResult.Failed(e.Message);
            }
        }

        return results;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return _metadata;
        }

        if (serviceType == typeof(DecoderConfig))
        {
            return Config;
        }

        if (serviceType == typeof(ModelTokenizer))
        {
            return Tokenizer;
        }

        if (serviceType == typeof(SchedulerStatistics))
        {
            return Statistics;
        }

        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Stops the scheduler; the session is released as soon as the step in flight (if any) has ended.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _scheduler.Stop();
        _released = _scheduler.Completion.ContinueWith(_ => _model.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Stops the scheduler and waits until the session is released.</summary>
    public async ValueTask DisposeAsync()
    {
        Dispose();
        await _released.ConfigureAwait(false);
    }

    private (GenerationRequest Request, ChatSequenceHandler Handler) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var prompt = Tokenize(messages, options);
        var maxNew = options?.MaxOutputTokens ?? DefaultMaxOutputTokens;
        if (maxNew < 1)
        {
            throw new ArgumentException($"MaxOutputTokens must be at least 1 (got {maxNew})");
        }

        var handler = new ChatSequenceHandler(Tokenizer, options, maxNew, streaming);

        return (new GenerationRequest(prompt, maxNew, _stopIds, handler, cancellationToken), handler);
    }

    private ChatResponse Response(GenerationOutcome outcome, string text) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = ModelId,
            ResponseId = Guid.NewGuid().ToString("N"),
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = FinishReason(outcome),
            Usage = Usage(outcome),
            RawRepresentation = Raw(outcome),
        };

    private static ChatFinishReason FinishReason(GenerationOutcome outcome) =>
        outcome.Finish == FinishKind.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length;

    private static UsageDetails Usage(GenerationOutcome outcome) => new()
    {
        InputTokenCount = outcome.PromptTokens,
        OutputTokenCount = outcome.Tokens.Length,
        TotalTokenCount = outcome.PromptTokens + outcome.Tokens.Length,
    };

    private static LocalGeneration Raw(GenerationOutcome outcome) =>
        new(outcome.Tokens, outcome.Finish == FinishKind.Stop ? "stop" : "length", outcome.PromptTokens);

    private static HashSet<int> StopIds(string folder, DecoderConfig config, ModelTokenizer tokenizer)
    {
        var ids = new HashSet<int>(GenerationConfig.EosIds(folder));
        ids.UnionWith(config.EosTokenIds);
        ids.UnionWith(tokenizer.EndOfSequenceIds);
        foreach (var special in new[] { "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>" })
        {
            if (tokenizer.TokenId(special) is { } id)
            {
                ids.Add(id);
            }
        }

        return ids;
    }
}

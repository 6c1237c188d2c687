namespace Distil.Engine.Generation;

/// <summary>One prompt to continue, with its limits; completed through <see cref="Completion"/>.</summary>
internal sealed class GenerationRequest(int[] promptTokens, int maxNewTokens, IReadOnlySet<int> stopTokenIds, ISequenceHandler handler, CancellationToken cancellationToken)
{
    public int[] PromptTokens { get; } = promptTokens;

    public int MaxNewTokens { get; } = maxNewTokens;

    public IReadOnlySet<int> StopTokenIds { get; } = stopTokenIds;

    public ISequenceHandler Handler { get; } = handler;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    public TaskCompletionSource<GenerationOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Why generation ended: a stop token, stop string or complete constrained value ("stop"), or a
/// token limit — max_new_tokens or the model's context ("length").</summary>
internal enum FinishKind
{
    Stop,
    Length,
}

/// <param name="Tokens">Generated token ids, a final stop id included.</param>
internal sealed record GenerationOutcome(int[] Tokens, FinishKind Finish, int PromptTokens);

/// <summary>A request the engine refused (prompt longer than the context, say) without disturbing the others.</summary>
public sealed class GenerationRejectedException(string message) : Exception(message);

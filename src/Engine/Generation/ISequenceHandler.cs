namespace Distil.Engine.Generation;

/// <summary>
/// The per-request decisions the scheduler delegates: which token to take from the logits (constraint mask,
/// then sampling with the request's own seed) and whether the text so far ends the request (stop strings,
/// a completed JSON value). Called on the scheduler's thread, one call at a time.
/// </summary>
internal interface ISequenceHandler
{
    /// <summary>Chooses the next token; may overwrite <paramref name="logits"/> (masking, penalties).</summary>
    int Choose(Span<float> logits, IReadOnlyList<int> generated);

    /// <summary>Takes a generated (non-stop-id) token; true ends the request with finish reason "stop".</summary>
    bool Accept(int token);
}

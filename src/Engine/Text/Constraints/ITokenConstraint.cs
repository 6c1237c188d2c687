namespace Distil.Engine.Text.Constraints;

/// <summary>
/// The per-request state of a token-level output constraint. Per generated token the engine calls
/// <see cref="ApplyMask"/> before sampling and <see cref="Advance"/> with the sampled token; it stops when
/// <see cref="IsComplete"/> turns true.
/// </summary>
public interface ITokenConstraint
{
    /// <summary>
    /// Sets the logit of every token that is not allowed next to negative infinity. With
    /// <paramref name="remainingTokens"/> (including this one) just large enough for the shortest valid completion,
    /// only tokens on a shortest completion are left, so the output is complete within the budget.
    /// End-of-sequence tokens are allowed exactly when the output so far is a complete document.
    /// </summary>
    void ApplyMask(Span<float> logits, int remainingTokens);

    /// <summary>Moves past a token the mask allowed.</summary>
    /// <exception cref="InvalidOperationException">The token was not allowed.</exception>
    void Advance(int tokenId);

    /// <summary>The output is a complete document and nothing more may follow: stop generating.</summary>
    bool IsComplete { get; }

    /// <summary>The output so far is a complete document, though more could still follow (a top-level number).</summary>
    bool CanEnd { get; }

    /// <summary>The fewest bytes (an upper bound on tokens) that complete the document from here.</summary>
    int MinimumRemainingBytes { get; }
}

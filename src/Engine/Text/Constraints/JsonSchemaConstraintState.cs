namespace Distil.Engine.Text.Constraints;

/// <summary>One generation's position in a <see cref="JsonSchemaConstraint"/>'s grammar.</summary>
internal sealed class JsonSchemaConstraintState : ITokenConstraint
{
    private readonly JsonSchemaConstraint _constraint;
    private readonly GrammarFrame[] _stack;
    private readonly GrammarFrame[] _scratch;
    private int _depth;
    private int _need;
    private bool _complete;

    public JsonSchemaConstraintState(JsonSchemaConstraint constraint)
    {
        _constraint = constraint;
        _stack = new GrammarFrame[constraint.Grammar.MaxFrames];
        _scratch = new GrammarFrame[constraint.Grammar.MaxFrames];
        _stack[0] = new GrammarFrame(constraint.Grammar.Root);
        _depth = 1;
        _need = constraint.Grammar.Need(_stack.AsSpan(0, 1));
    }

    public bool IsComplete => _complete;

    public bool CanEnd => _need == 0;

    public int MinimumRemainingBytes => _need;

    public void ApplyMask(Span<float> logits, int remainingTokens)
    {
        if (_complete)
        {
            logits.Fill(float.NegativeInfinity);
            AllowEndOfSequence(logits);
            return;
        }
        // After this token at most remainingTokens - 1 remain; a budget below the shortest completion cannot be
        // met, and then the shortest path is still the best bet (the output is cut at max tokens).
        var budgetAfter = Math.Max(remainingTokens - 1, _need - 1);
        var mask = _constraint.MaskFor(_stack.AsSpan(0, _depth), budgetAfter);
        if (mask.Allowed == 0 && _need > 0)
        {
            // A vocabulary without single-byte tokens for the shortest path: fall back to any grammatical token.
            mask = _constraint.MaskFor(_stack.AsSpan(0, _depth), int.MaxValue);
        }
        mask.Apply(logits);
        if (_need == 0)
        {
            AllowEndOfSequence(logits);
        }
    }

    public void Advance(int tokenId)
    {
        var tokenizer = _constraint.Tokenizer;
        if (tokenizer.IsSpecial(tokenId))
        {
            if (_need == 0 && tokenizer.EndOfSequenceIds.Contains(tokenId))
            {
                _complete = true;
                return;
            }
            throw new InvalidOperationException($"special token {tokenId} is not allowed inside the JSON document");
        }
        if (_complete)
        {
            throw new InvalidOperationException("the JSON document is already complete");
        }
        _stack.AsSpan(0, _depth).CopyTo(_scratch);
        var depth = _depth;
        foreach (var b in tokenizer.TokenByteSpan(tokenId))
        {
            if (!_constraint.Grammar.Feed(_scratch, ref depth, b))
            {
                throw new InvalidOperationException($"token {tokenId} breaks the JSON schema at this point");
            }
        }
        _scratch.AsSpan(0, depth).CopyTo(_stack);
        _depth = depth;
        _need = _constraint.Grammar.Need(_stack.AsSpan(0, _depth));
        _complete = _need == 0 && !CanContinue();
    }

    private bool CanContinue()
    {
        for (var b = 0; b < 256; b++)
        {
            _stack.AsSpan(0, _depth).CopyTo(_scratch);
            var depth = _depth;
            if (_constraint.Grammar.Feed(_scratch, ref depth, (byte)b))
            {
                return true;
            }
        }
        return false;
    }

    private void AllowEndOfSequence(Span<float> logits)
    {
        foreach (var id in _constraint.Tokenizer.EndOfSequenceIds)
        {
            if (id < logits.Length && float.IsNegativeInfinity(logits[id]))
            {
                logits[id] = 0;
            }
        }
    }
}

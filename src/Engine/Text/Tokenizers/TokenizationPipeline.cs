namespace Distil.Engine.Text.Tokenizers;

/// <summary>Turns the text between added tokens into ids: the model part of a tokenizer (BPE words, tiktoken, SentencePiece).</summary>
internal interface ISegmentEncoder
{
    /// <summary>Appends the ids of <paramref name="segment"/>; <paramref name="atStart"/> when it begins the input.</summary>
    void Encode(string segment, bool atStart, List<int> ids);
}

/// <summary>
/// Hugging Face's encoding order: added tokens found in the raw text, the rest normalized, added tokens found in the
/// normalized text, the rest given to the model, and the post-processor's special tokens around the result on request.
/// </summary>
internal sealed class TokenizationPipeline(
    AddedVocabulary addedTokens,
    TextNormalizer? normalizer,
    ISegmentEncoder model,
    IReadOnlyList<int> prefix,
    IReadOnlyList<int> suffix)
{
    public int[] Encode(string text, bool parseSpecialTokens, bool addSpecialTokens)
    {
        var ids = new List<int>();
        if (addSpecialTokens)
        {
            ids.AddRange(prefix);
        }
        foreach (var (raw, rawId, rawStart) in addedTokens.Split(text, normalizedTokens: false, parseSpecialTokens))
        {
            if (rawId is { } id)
            {
                ids.Add(id);
                continue;
            }
            var normalized = normalizer?.Normalize(raw) ?? raw;
            foreach (var (piece, pieceId, pieceStart) in addedTokens.Split(normalized, normalizedTokens: true, parseSpecialTokens))
            {
                if (pieceId is { } added)
                {
                    ids.Add(added);
                }
                else if (piece.Length > 0)
                {
                    model.Encode(piece, rawStart == 0 && pieceStart == 0, ids);
                }
            }
        }
        if (addSpecialTokens)
        {
            ids.AddRange(suffix);
        }
        return ids.ToArray();
    }
}

/// <summary>A tokenizer.json model fed by its pre-tokenizer.</summary>
internal sealed class PreTokenizedBpe(PreTokenizerStep? preTokenizer, BpeModel model) : ISegmentEncoder
{
    public void Encode(string segment, bool atStart, List<int> ids)
    {
        if (preTokenizer is null)
        {
            model.Encode(segment, ids);
            return;
        }
        var words = new List<Piece>();
        preTokenizer.Apply(new Piece(segment, atStart), words);
        foreach (var word in words)
        {
            model.Encode(word.Text, ids);
        }
    }
}

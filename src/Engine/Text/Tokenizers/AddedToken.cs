namespace Distil.Engine.Text.Tokenizers;

/// <summary>A token matched in text before the model sees it; the flags are tokenizer.json's (defaults: a plain special token).</summary>
internal sealed record AddedToken(int Id, string Content, bool Special,
    bool Normalized = false, bool LStrip = false, bool RStrip = false, bool SingleWord = false);

using Distil.Engine.Text;

namespace Distil.Engine.Building;

/// <summary>The tokenizer of a preset model: engine-text's Llama-3-style tokenizer (cl100k_base ranks plus the
/// Llama 3 special tokens), and the begin/end ids a Llama 3.1 Instruct model uses.</summary>
internal static class PresetTokenizer
{
    public sealed record Ids(int BosTokenId, IReadOnlyList<int> EosTokenIds);

    public static int VocabularySize => ModelTokenizer.Llama3StyleVocabularySize;

    public static Ids Write(string folder)
    {
        ModelTokenizer.WriteLlama3Style(folder);
        return new Ids(Id("<|begin_of_text|>"), [Id("<|end_of_text|>"), Id("<|eom_id|>"), Id("<|eot_id|>")]);
    }

    private static int Id(string special)
    {
        var index = ModelTokenizer.Llama3StyleSpecialTokens.ToList().IndexOf(special);
        return index >= 0 ? ModelTokenizer.Llama3StyleBaseVocabularySize + index : throw new InvalidOperationException($"special token {special} missing from the Llama-3-style tokenizer");
    }
}

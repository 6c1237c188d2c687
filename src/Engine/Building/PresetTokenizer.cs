using Distil.Engine.Text;

namespace Distil.Engine.Building;

/// <summary>The tokenizer of a preset model: engine-text's Llama-3-style tokenizer (cl100k_base ranks plus the
/// Llama 3 special tokens), and the begin/end ids a Llama 3.1 Instruct model uses.</summary>
internal static class PresetTokenizer
{
    public sealed record Ids(int? BosTokenId, IReadOnlyList<int> EosTokenIds, int VocabularySize);

    /// <summary>The files that make up a model folder's tokenizer and chat template.</summary>
    private static readonly string[] TokenizerFiles =
        ["tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "chat_template.jinja"];

    public static int VocabularySize => ModelTokenizer.Llama3StyleVocabularySize;

    public static Ids Write(string folder)
    {
        ModelTokenizer.WriteLlama3Style(folder);
        return new Ids(Id("<|begin_of_text|>"), [Id("<|end_of_text|>"), Id("<|eom_id|>"), Id("<|eot_id|>")], VocabularySize);
    }

    /// <summary>Copies another model folder's tokenizer files and reads them back for the vocabulary size and begin/end ids.</summary>
    /// <exception cref="TokenizerFormatException">The folder has no tokenizer Distil can read.</exception>
    public static Ids CopyFrom(string sourceFolder, string folder)
    {
        // Read first: a folder without a usable tokenizer is refused before anything is written.
        var tokenizer = ModelTokenizer.Load(sourceFolder);
        Directory.CreateDirectory(folder);
        foreach (var name in TokenizerFiles)
        {
            var source = Path.Combine(sourceFolder, name);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(folder, name), overwrite: true);
            }
        }
        var eos = tokenizer.EndOfSequenceIds;
        if (eos.Count == 0)
        {
            throw new TokenizerFormatException(sourceFolder, "the tokenizer names no end-of-sequence token (eos_token in tokenizer_config.json), so generation could never stop");
        }
        return new Ids(tokenizer.BeginOfTextId, eos, tokenizer.VocabularySize);
    }

    private static int Id(string special)
    {
        var index = ModelTokenizer.Llama3StyleSpecialTokens.ToList().IndexOf(special);
        return index >= 0 ? ModelTokenizer.Llama3StyleBaseVocabularySize + index : throw new InvalidOperationException($"special token {special} missing from the Llama-3-style tokenizer");
    }
}

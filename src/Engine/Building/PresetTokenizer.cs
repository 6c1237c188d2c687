using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine.Text;
using Distil.Engine.Text.Tokenizers;

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

    /// <summary>
    /// Names the padding token in the folder's tokenizer_config.json (<c>pad_token</c>, right padding) and returns its
    /// id, for a sequence classifier's batches: Llama 3's <c>&lt;|finetune_right_pad_id|&gt;</c> when the tokenizer has
    /// it, else the first end-of-sequence token. Never <c>&lt;|eot_id|&gt;</c> if avoidable: a graph that finds a row's
    /// end by the first pad id would stop at the end of the first turn.
    /// </summary>
    public static int NamePadding(string folder)
    {
        var tokenizer = ModelTokenizer.Load(folder);
        var name = tokenizer.TokenId("<|finetune_right_pad_id|>") is not null ? "<|finetune_right_pad_id|>" : tokenizer.Decode([tokenizer.EndOfSequenceIds[0]]);
        var file = Path.Combine(folder, "tokenizer_config.json");
        var json = File.Exists(file) ? JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? new JsonObject() : new JsonObject();
        json["pad_token"] = name;
        json["padding_side"] = "right";
        File.WriteAllText(file, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return tokenizer.TokenId(name) ?? tokenizer.EndOfSequenceIds[0];
    }

    private static int Id(string special)
    {
        var index = ModelTokenizer.Llama3StyleSpecialTokens.ToList().IndexOf(special);
        return index >= 0 ? ModelTokenizer.Llama3StyleBaseVocabularySize + index : throw new InvalidOperationException($"special token {special} missing from the Llama-3-style tokenizer");
    }
}

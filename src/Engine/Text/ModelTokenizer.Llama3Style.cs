using System.Text;
using System.Text.Json;

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
    /// and <c>special_tokens_map.json</c>. <see cref="Load"/> reads it back with the Llama 3 pre-tokenizer.
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
            json.WriteString("chat_template", Llama31StyleJinja);
            json.WriteNumber("model_max_length", 131072);
        });
        WriteJson(Path.Combine(modelDirectory, "special_tokens_map.json"), json =>
        {
            json.WriteString("bos_token", "<|begin_of_text|>");
            json.WriteString("eos_token", "<|eot_id|>");
        });
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

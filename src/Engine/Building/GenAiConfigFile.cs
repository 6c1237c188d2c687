using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine.Model;
using Distil.Engine.Text;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Building;

/// <summary>
/// Writes the <c>genai_config.json</c> that lets ONNX Runtime GenAI open a Distil-built folder as it is: the
/// decoder file, its shape and the special tokens. The cache grows step by step (<c>past_present_share_buffer</c>
/// false: the graph concatenates past and new keys, it has no static buffer). Padding uses
/// <c>&lt;|end_of_text|&gt;</c>, never <c>&lt;|eot_id|&gt;</c>: GenAI treats the pad id as a stop, and an end-of-turn
/// pad would end chat turns early or be confused with them.
/// </summary>
internal static class GenAiConfigFile
{
    public static void Write(string folder, LlamaConfig config, string modelFileInFolder)
    {
        var pad = PadTokenId(folder) ?? (config.EosTokenIds.Count > 0 ? config.EosTokenIds[0] : 0);
        var json = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["type"] = "llama",
                ["context_length"] = config.MaxPositionEmbeddings,
                ["vocab_size"] = config.VocabSize,
                ["bos_token_id"] = config.BosTokenId ?? 0,
                ["eos_token_id"] = new JsonArray(config.EosTokenIds.Select(id => (JsonNode?)id).ToArray()),
                ["pad_token_id"] = pad,
                ["decoder"] = new JsonObject
                {
                    ["filename"] = modelFileInFolder,
                    ["head_size"] = config.HeadDim,
                    ["hidden_size"] = config.HiddenSize,
                    ["num_attention_heads"] = config.NumHeads,
                    ["num_hidden_layers"] = config.NumLayers,
                    ["num_key_value_heads"] = config.NumKvHeads,
                    ["session_options"] = new JsonObject { ["provider_options"] = new JsonArray() },
                },
            },
            ["search"] = new JsonObject
            {
                ["max_length"] = config.MaxPositionEmbeddings,
                ["past_present_share_buffer"] = false,
                ["do_sample"] = false,
                ["num_beams"] = 1,
            },
        };
        File.WriteAllText(Path.Combine(folder, DecoderConfig.GenAiFileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static int? PadTokenId(string folder)
    {
        try
        {
            return ModelTokenizer.Load(folder).TokenId("<|end_of_text|>");
        }
        catch (Exception e) when (e is TokenizerFormatException or IOException)
        {
            return null; // a checkpoint without a tokenizer: fall back to the first end-of-sequence id
        }
    }
}

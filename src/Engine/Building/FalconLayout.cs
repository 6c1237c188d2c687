using System.Text.Json.Nodes;
using Distil.Engine.Model;

namespace Distil.Engine.Building;

/// <summary>
/// What sets a Falcon decoder apart from a Llama one, as Hugging Face's FalconConfig spells it. Every variant uses
/// LayerNorm (with bias), rotary positions, a GELU MLP and one fused <c>query_key_value</c> projection.
/// </summary>
/// <param name="NewDecoderArchitecture">40B/180B style: grouped KV heads, attention and MLP in parallel, each with
/// its own LayerNorm (<c>ln_attn</c>, <c>ln_mlp</c>) unless <paramref name="TwoLayerNorms"/> is false.</param>
/// <param name="ParallelAttention">7B style: attention and MLP read the same <c>input_layernorm</c> output and
/// both add to the residual; otherwise the MLP follows attention through <c>post_attention_layernorm</c>.</param>
/// <param name="MultiQuery">One KV head shared by every query head (7B style).</param>
/// <param name="Bias">Biases on the projections (query_key_value, dense, dense_h_to_4h, dense_4h_to_h).</param>
/// <param name="TwoLayerNorms">num_ln_in_parallel_attn == 2 (new architecture only).</param>
public sealed record FalconLayout(bool NewDecoderArchitecture, bool ParallelAttention, bool MultiQuery, bool Bias, bool TwoLayerNorms)
{
    /// <summary>Reads a FalconForCausalLM / RWForCausalLM config.json, old key names (n_head, n_head_kv, n_layer,
    /// n_embed) included. Variants the builder cannot express are refused naming the field.</summary>
    internal static LlamaConfig Parse(JsonObject json, string path)
    {
        Refuse(json, path, "alibi", "ALiBi positions are not supported (rotary only)");
        Refuse(json, path, "apply_residual_connection_post_layernorm", "the post-LayerNorm residual variant is not supported");
        if (json["rope_scaling"] is JsonObject)
        {
            throw new ModelFormatException(path, "field 'rope_scaling' is set; Falcon rope scaling is not supported");
        }

        var activation = json["activation"] is JsonValue a && a.TryGetValue<string>(out var name) ? name : "gelu";
        if (activation != "gelu")
        {
            throw new ModelFormatException(path, $"field 'activation' is '{activation}'; only 'gelu' is supported for Falcon");
        }

        var hidden = LlamaConfig.Int(json, path, "hidden_size", "n_embed");
        var heads = LlamaConfig.Int(json, path, "num_attention_heads", "n_head");
        var newArchitecture = Flag(json, path, "new_decoder_architecture", false);
        var multiQuery = Flag(json, path, "multi_query", true);
        var parallel = Flag(json, path, "parallel_attn", true);
        var norms = LlamaConfig.OptionalInt(json, "num_ln_in_parallel_attn", path) ?? 2;
        if (newArchitecture && norms == 1 && !parallel)
        {
            throw new ModelFormatException(path, "field 'parallel_attn' is false with num_ln_in_parallel_attn 1; that Falcon variant has no MLP input");
        }

        if (norms is not (1 or 2))
        {
            throw new ModelFormatException(path, $"field 'num_ln_in_parallel_attn' is {norms}; expected 1 or 2");
        }

        // Hugging Face's split of the fused projection: the new architecture groups [q × heads/kv, k, v] per KV head;
        // the old one is [q, k, v] per head (kv = heads) or, multi-query, [q × heads, k, v] (kv = 1).
        var kvHeads = newArchitecture
            ? LlamaConfig.OptionalInt(json, "num_kv_heads", path) ?? LlamaConfig.OptionalInt(json, "n_head_kv", path) ?? heads
            : multiQuery ? 1 : heads;
        if (kvHeads <= 0 || heads % kvHeads != 0)
        {
            throw new ModelFormatException(path, $"field 'num_kv_heads' ({kvHeads}) must divide num_attention_heads ({heads})");
        }

        if (hidden % heads != 0)
        {
            throw new ModelFormatException(path, $"field 'hidden_size' ({hidden}) is not a multiple of num_attention_heads ({heads})");
        }

        return new LlamaConfig
        {
            Architecture = DecoderArchitecture.Falcon,
            Falcon = new FalconLayout(newArchitecture, newArchitecture || parallel, !newArchitecture && multiQuery, Flag(json, path, "bias", false), newArchitecture && norms == 2),
            HiddenSize = hidden,
            IntermediateSize = LlamaConfig.OptionalInt(json, "ffn_hidden_size", path) ?? 4 * hidden,
            NumLayers = LlamaConfig.Int(json, path, "num_hidden_layers", "n_layer"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = hidden / heads,
            VocabSize = LlamaConfig.Int(json, path, "vocab_size"),
            MaxPositionEmbeddings = LlamaConfig.OptionalInt(json, "max_position_embeddings", path) ?? 2048,
            RmsNormEps = LlamaConfig.OptionalDouble(json, "layer_norm_epsilon", path) ?? 1e-5,
            RopeTheta = LlamaConfig.OptionalDouble(json, "rope_theta", path) ?? 10000,
            TieWordEmbeddings = Flag(json, path, "tie_word_embeddings", true),
            BosTokenId = LlamaConfig.OptionalInt(json, "bos_token_id", path),
            EosTokenIds = LlamaConfig.TokenIds(json["eos_token_id"], "eos_token_id", path),
            TorchDtype = json["torch_dtype"]?.GetValue<string>() ?? "float32",
        };
    }

    /// <summary>The config.json of a Falcon model in today's FalconConfig keys.</summary>
    internal JsonObject ToJson(LlamaConfig c)
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(DecoderArchitecture.Falcon.ClassName()),
            ["model_type"] = DecoderArchitecture.Falcon.ModelType(),
            ["hidden_size"] = c.HiddenSize,
            ["ffn_hidden_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumLayers,
            ["num_attention_heads"] = c.NumHeads,
            ["num_kv_heads"] = c.NumKvHeads,
            ["new_decoder_architecture"] = NewDecoderArchitecture,
            ["multi_query"] = MultiQuery,
            ["parallel_attn"] = ParallelAttention,
            ["bias"] = Bias,
            ["alibi"] = false,
            ["activation"] = "gelu",
            ["vocab_size"] = c.VocabSize,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["layer_norm_epsilon"] = c.RmsNormEps,
            ["rope_theta"] = c.RopeTheta,
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["torch_dtype"] = c.TorchDtype,
            ["use_cache"] = true,
        };
        if (NewDecoderArchitecture)
        {
            json["num_ln_in_parallel_attn"] = TwoLayerNorms ? 2 : 1;
        }

        return json;
    }

    private static bool Flag(JsonObject json, string path, string field, bool fallback) => json[field] switch
    {
        null => fallback,
        JsonValue v when v.TryGetValue<bool>(out var on) => on,
        _ => throw new ModelFormatException(path, $"field '{field}' must be true or false"),
    };

    private static void Refuse(JsonObject json, string path, string field, string why)
    {
        if (json[field] is JsonValue v && v.TryGetValue<bool>(out var on) && on)
        {
            throw new ModelFormatException(path, $"field '{field}' is true; {why}");
        }
    }
}

using System.Text.Json.Nodes;

namespace Distil.Engine.Tests.Support;

/// <summary>Writes a small Hugging Face style Llama checkpoint (config.json + safetensors) with random weights
/// and returns the exact weights the file holds (bf16-rounded when stored as bf16).</summary>
internal static class TestCheckpoint
{
    public static Dictionary<string, float[]> Write(string folder, ReferenceShape s, int seed, bool bf16, int shards = 1)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var tensors = new List<(string Name, long[] Shape, float[] Data)>();
        void Add(string name, params long[] shape)
        {
            var count = shape.Aggregate(1L, (a, d) => a * d);
            var isNorm = shape.Length == 1;
            var scale = isNorm ? 0.2 : 1.0 / Math.Sqrt(shape[^1]);
            var data = new float[count];
            for (var i = 0; i < count; i++)
            {
                var value = (float)((isNorm ? 1 : 0) + (scale * ((random.NextDouble() * 2) - 1) * 1.7));
                data[i] = bf16 ? SafetensorsWriter.RoundToBf16(value) : value;
            }

            tensors.Add((name, shape, data));
        }

        Add("model.embed_tokens.weight", s.Vocab, s.Hidden);
        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            Add(p + "input_layernorm.weight", s.Hidden);
            Add(p + "self_attn.q_proj.weight", s.Heads * s.HeadDim, s.Hidden);
            Add(p + "self_attn.k_proj.weight", s.KvHeads * s.HeadDim, s.Hidden);
            Add(p + "self_attn.v_proj.weight", s.KvHeads * s.HeadDim, s.Hidden);
            Add(p + "self_attn.o_proj.weight", s.Hidden, s.Heads * s.HeadDim);
            Add(p + "post_attention_layernorm.weight", s.Hidden);
            Add(p + "mlp.gate_proj.weight", s.Intermediate, s.Hidden);
            Add(p + "mlp.up_proj.weight", s.Intermediate, s.Hidden);
            Add(p + "mlp.down_proj.weight", s.Hidden, s.Intermediate);
        }

        Add("model.norm.weight", s.Hidden);
        if (!s.Tied)
        {
            Add("lm_head.weight", s.Vocab, s.Hidden);
        }

        if (shards == 1)
        {
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors, bf16);
        }
        else
        {
            var map = new JsonObject();
            var per = (tensors.Count + shards - 1) / shards;
            for (var shard = 0; shard < shards; shard++)
            {
                var file = $"model-{shard + 1:D5}-of-{shards:D5}.safetensors";
                var part = tensors.Skip(shard * per).Take(per).ToList();
                SafetensorsWriter.Write(Path.Combine(folder, file), part, bf16);
                foreach (var t in part)
                {
                    map[t.Name] = file;
                }
            }

            File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());
        }

        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = s.Hidden,
            ["intermediate_size"] = s.Intermediate,
            ["num_hidden_layers"] = s.Layers,
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["vocab_size"] = s.Vocab,
            ["rms_norm_eps"] = s.Eps,
            ["rope_theta"] = s.Theta,
            ["tie_word_embeddings"] = s.Tied,
            ["max_position_embeddings"] = 2048,
            ["torch_dtype"] = bf16 ? "bfloat16" : "float32",
            ["bos_token_id"] = 1,
            ["eos_token_id"] = new JsonArray(2, 3),
        };
        if (s.Llama3Scaling is { } r)
        {
            config["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3",
                ["factor"] = r.Factor,
                ["low_freq_factor"] = r.Low,
                ["high_freq_factor"] = r.High,
                ["original_max_position_embeddings"] = r.Original,
            };
        }

        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        return tensors.ToDictionary(t => t.Name, t => t.Data);
    }
}

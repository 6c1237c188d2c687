namespace Distil.Engine.Tests.Support;

/// <summary>Shape and hyper-parameters of a reference model, kept apart from the engine's own config type.</summary>
internal sealed record ReferenceShape(
    int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int HeadDim, int Vocab,
    double Eps, double Theta, bool Tied, (double Factor, double Low, double High, int Original)? Llama3Scaling,
    bool QkvBias = false, bool QkNorm = false);

/// <summary>
/// An independent, plain C# forward pass of a Llama decoder (double accumulation, full causal attention over
/// the whole sequence, no cache), written from the Hugging Face modeling equations and fed the checkpoint's
/// weights — the yardstick for the ONNX graph. Qwen2 adds biases to q/k/v (modeling_qwen2); Qwen3 RMS-normalizes
/// each query and key head with q_norm/k_norm before rope (modeling_qwen3).
/// </summary>
internal sealed class ReferenceLlama(ReferenceShape s, IReadOnlyDictionary<string, float[]> w)
{
    /// <summary>Logits of every position, [tokens.Length][vocab].</summary>
    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        var n = tokens.Count;
        var x = new double[n][];
        var embed = w["model.embed_tokens.weight"];
        for (var t = 0; t < n; t++)
        {
            x[t] = Enumerable.Range(0, s.Hidden).Select(i => (double)embed[(long)tokens[t] * s.Hidden + i]).ToArray();
        }

        var inv = InverseFrequencies();
        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            var h = x.Select(row => Norm(row, w[p + "input_layernorm.weight"])).ToArray();
            var q = h.Select(row => Linear(row, w[p + "self_attn.q_proj.weight"], s.Heads * s.HeadDim)).ToArray();
            var k = h.Select(row => Linear(row, w[p + "self_attn.k_proj.weight"], s.KvHeads * s.HeadDim)).ToArray();
            var v = h.Select(row => Linear(row, w[p + "self_attn.v_proj.weight"], s.KvHeads * s.HeadDim)).ToArray();
            for (var t = 0; t < n; t++)
            {
                if (s.QkvBias)
                {
                    AddBias(q[t], w[p + "self_attn.q_proj.bias"]);
                    AddBias(k[t], w[p + "self_attn.k_proj.bias"]);
                    AddBias(v[t], w[p + "self_attn.v_proj.bias"]);
                }

                if (s.QkNorm)
                {
                    NormHeads(q[t], s.Heads, w[p + "self_attn.q_norm.weight"]);
                    NormHeads(k[t], s.KvHeads, w[p + "self_attn.k_norm.weight"]);
                }

                Rope(q[t], s.Heads, t, inv);
                Rope(k[t], s.KvHeads, t, inv);
            }

            var attended = CausalAttention(q, k, v);
            for (var t = 0; t < n; t++)
            {
                var o = Linear(attended[t], w[p + "self_attn.o_proj.weight"], s.Hidden);
                for (var i = 0; i < s.Hidden; i++)
                {
                    x[t][i] += o[i];
                }

                var m = Norm(x[t], w[p + "post_attention_layernorm.weight"]);
                var gate = Linear(m, w[p + "mlp.gate_proj.weight"], s.Intermediate);
                var up = Linear(m, w[p + "mlp.up_proj.weight"], s.Intermediate);
                var act = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
                var down = Linear(act, w[p + "mlp.down_proj.weight"], s.Hidden);
                for (var i = 0; i < s.Hidden; i++)
                {
                    x[t][i] += down[i];
                }
            }
        }

        var lmHead = s.Tied ? w["model.embed_tokens.weight"] : w["lm_head.weight"];
        return x.Select(row => Linear(Norm(row, w["model.norm.weight"]), lmHead, s.Vocab).Select(z => (float)z).ToArray()).ToArray();
    }

    /// <summary>softmax(q·kᵀ/√d) v per head over positions 0..t; query head h reads KV head h / (heads/kv_heads).</summary>
    internal double[][] CausalAttention(double[][] q, double[][] k, double[][] v)
    {
        var n = q.Length;
        var attended = new double[n][];
        var group = s.Heads / s.KvHeads;
        for (var t = 0; t < n; t++)
        {
            attended[t] = new double[s.Heads * s.HeadDim];
            for (var head = 0; head < s.Heads; head++)
            {
                var kvHead = head / group;
                var scores = new double[t + 1];
                for (var j = 0; j <= t; j++)
                {
                    double dot = 0;
                    for (var d = 0; d < s.HeadDim; d++)
                    {
                        dot += q[t][head * s.HeadDim + d] * k[j][kvHead * s.HeadDim + d];
                    }

                    scores[j] = dot / Math.Sqrt(s.HeadDim);
                }

                var max = scores.Max();
                var exp = scores.Select(z => Math.Exp(z - max)).ToArray();
                var sum = exp.Sum();
                for (var j = 0; j <= t; j++)
                {
                    for (var d = 0; d < s.HeadDim; d++)
                    {
                        attended[t][head * s.HeadDim + d] += exp[j] / sum * v[j][kvHead * s.HeadDim + d];
                    }
                }
            }
        }

        return attended;
    }

    private double[] Norm(double[] x, float[] weight)
    {
        var rms = Math.Sqrt(x.Sum(z => z * z) / x.Length + s.Eps);
        return x.Select((z, i) => z / rms * weight[i]).ToArray();
    }

    private static void AddBias(double[] x, float[] bias)
    {
        for (var i = 0; i < x.Length; i++)
        {
            x[i] += bias[i];
        }
    }

    private void NormHeads(double[] x, int heads, float[] weight)
    {
        for (var head = 0; head < heads; head++)
        {
            var normed = Norm(x[(head * s.HeadDim)..((head + 1) * s.HeadDim)], weight);
            normed.CopyTo(x, head * s.HeadDim);
        }
    }

    /// <summary>y = W x with W stored [outputs, inputs] (the Hugging Face layout).</summary>
    internal static double[] Linear(double[] x, float[] weight, int outputs)
    {
        var y = new double[outputs];
        for (var o = 0; o < outputs; o++)
        {
            double sum = 0;
            var row = (long)o * x.Length;
            for (var i = 0; i < x.Length; i++)
            {
                sum += weight[row + i] * x[i];
            }

            y[o] = sum;
        }

        return y;
    }

    internal double[] InverseFrequencies()
    {
        var half = s.HeadDim / 2;
        var result = new double[half];
        for (var i = 0; i < half; i++)
        {
            var f = Math.Pow(s.Theta, -2.0 * i / s.HeadDim);
            if (s.Llama3Scaling is { } r)
            {
                var wavelength = 2 * Math.PI / f;
                var lowBound = r.Original / r.Low;
                var highBound = r.Original / r.High;
                if (wavelength < highBound)
                {
                    // high frequency: unchanged
                }
                else if (wavelength > lowBound)
                {
                    f /= r.Factor;
                }
                else
                {
                    var mix = (r.Original / wavelength - r.Low) / (r.High - r.Low);
                    f = mix * f + (1 - mix) * f / r.Factor;
                }
            }

            // The graph multiplies fp32 positions by fp32 frequencies; match that rounding.
            result[i] = (float)f;
        }

        return result;
    }

    internal void Rope(double[] x, int heads, int position, double[] inv)
    {
        var half = s.HeadDim / 2;
        for (var head = 0; head < heads; head++)
        {
            var b = head * s.HeadDim;
            for (var i = 0; i < half; i++)
            {
                var angle = (double)(float)((float)position * (float)inv[i]);
                var (sin, cos) = Math.SinCos(angle);
                var a = x[b + i];
                var c = x[b + i + half];
                x[b + i] = a * cos - c * sin;
                x[b + i + half] = c * cos + a * sin;
            }
        }
    }
}

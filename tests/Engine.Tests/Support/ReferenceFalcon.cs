namespace Distil.Engine.Tests.Support;

/// <summary>Which Falcon a reference pass computes, in Hugging Face FalconConfig terms.</summary>
internal sealed record FalconShape(
    int Hidden, int Ffn, int Layers, int Heads, int Vocab, double Eps, double Theta,
    bool NewDecoderArchitecture, int NumKvHeads, bool MultiQuery, bool ParallelAttention, bool Bias, int ParallelNorms, bool Tied);

/// <summary>
/// An independent, plain C# forward pass of a Falcon decoder written from Hugging Face's modeling_falcon: the three
/// ways FalconAttention._split_heads reads the fused query_key_value rows (new architecture, multi-head,
/// multi-query) kept as three separate branches, LayerNorm with bias, rotary, exact GELU, and the decoder layer's
/// parallel / sequential residual wiring. Rope and the causal softmax come from <see cref="ReferenceLlama"/>.
/// </summary>
internal sealed class ReferenceFalcon
{
    private readonly FalconShape _s;
    private readonly IReadOnlyDictionary<string, float[]> _w;
    private readonly int _headDim;
    private readonly int _kvHeads;
    private readonly ReferenceLlama _rotaryAndSoftmax;

    public ReferenceFalcon(FalconShape shape, IReadOnlyDictionary<string, float[]> weights)
    {
        _s = shape;
        _w = weights;
        _headDim = shape.Hidden / shape.Heads;
        _kvHeads = shape.NewDecoderArchitecture ? shape.NumKvHeads : shape.MultiQuery ? 1 : shape.Heads;
        _rotaryAndSoftmax = new ReferenceLlama(new ReferenceShape(shape.Hidden, shape.Ffn, shape.Layers, shape.Heads, _kvHeads, _headDim, shape.Vocab, shape.Eps, shape.Theta, shape.Tied, null), weights);
    }

    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        var n = tokens.Count;
        var embed = _w["transformer.word_embeddings.weight"];
        var x = tokens.Select(token => Enumerable.Range(0, _s.Hidden).Select(i => (double)embed[(long)token * _s.Hidden + i]).ToArray()).ToArray();
        var inv = _rotaryAndSoftmax.InverseFrequencies();
        for (var l = 0; l < _s.Layers; l++)
        {
            var p = $"transformer.h.{l}.";
            var twoNorms = _s.NewDecoderArchitecture && _s.ParallelNorms == 2;
            var attnIn = x.Select(row => LayerNorm(row, p + (twoNorms ? "ln_attn" : "input_layernorm"))).ToArray();
            var q = new double[n][];
            var k = new double[n][];
            var v = new double[n][];
            for (var t = 0; t < n; t++)
            {
                var fused = Linear(attnIn[t], p + "self_attention.query_key_value", (_s.Heads + (2 * _kvHeads)) * _headDim);
                (q[t], k[t], v[t]) = SplitHeads(fused);
                _rotaryAndSoftmax.Rope(q[t], _s.Heads, t, inv);
                _rotaryAndSoftmax.Rope(k[t], _kvHeads, t, inv);
            }

            var context = _rotaryAndSoftmax.CausalAttention(q, k, v);
            for (var t = 0; t < n; t++)
            {
                var attention = Linear(context[t], p + "self_attention.dense", _s.Hidden);
                var residual = x[t];
                double[] mlpIn;
                if (twoNorms)
                {
                    mlpIn = LayerNorm(x[t], p + "ln_mlp");
                }
                else if (_s.NewDecoderArchitecture || _s.ParallelAttention)
                {
                    mlpIn = attnIn[t];
                }
                else
                {
                    residual = Add(attention, residual);
                    mlpIn = LayerNorm(residual, p + "post_attention_layernorm");
                }

                var mlp = Linear(Linear(mlpIn, p + "mlp.dense_h_to_4h", _s.Ffn).Select(Gelu).ToArray(), p + "mlp.dense_4h_to_h", _s.Hidden);
                if (_s.NewDecoderArchitecture || _s.ParallelAttention)
                {
                    mlp = Add(mlp, attention);
                }

                x[t] = Add(mlp, residual);
            }
        }

        var head = _s.Tied ? embed : _w["lm_head.weight"];
        return x.Select(row => ReferenceLlama.Linear(LayerNorm(row, "transformer.ln_f"), head, _s.Vocab).Select(z => (float)z).ToArray()).ToArray();
    }

    /// <summary>FalconAttention._split_heads, one branch per layout; k and v come back with one entry per KV head.</summary>
    private (double[] Q, double[] K, double[] V) SplitHeads(double[] fused)
    {
        var d = _headDim;
        var q = new double[_s.Heads * d];
        var k = new double[_kvHeads * d];
        var v = new double[_kvHeads * d];
        if (_s.NewDecoderArchitecture)
        {
            // view(b, s, -1, heads/kv + 2, d): per KV group, its query heads, then its key, then its value.
            var perGroup = (_s.Heads / _kvHeads) + 2;
            for (var g = 0; g < _kvHeads; g++)
            {
                for (var j = 0; j < perGroup - 2; j++)
                {
                    Array.Copy(fused, ((g * perGroup) + j) * d, q, ((g * (perGroup - 2)) + j) * d, d);
                }

                Array.Copy(fused, ((g * perGroup) + perGroup - 2) * d, k, g * d, d);
                Array.Copy(fused, ((g * perGroup) + perGroup - 1) * d, v, g * d, d);
            }
        }
        else if (!_s.MultiQuery)
        {
            // view(b, s, heads, 3, d): [q, k, v] per head.
            for (var h = 0; h < _s.Heads; h++)
            {
                Array.Copy(fused, ((h * 3) + 0) * d, q, h * d, d);
                Array.Copy(fused, ((h * 3) + 1) * d, k, h * d, d);
                Array.Copy(fused, ((h * 3) + 2) * d, v, h * d, d);
            }
        }
        else
        {
            // view(b, s, heads + 2, d): every query head, then the one key, then the one value.
            Array.Copy(fused, 0, q, 0, _s.Heads * d);
            Array.Copy(fused, _s.Heads * d, k, 0, d);
            Array.Copy(fused, (_s.Heads + 1) * d, v, 0, d);
        }

        return (q, k, v);
    }

    private double[] Linear(double[] x, string name, int outputs)
    {
        var y = ReferenceLlama.Linear(x, _w[name + ".weight"], outputs);
        return _s.Bias ? Add(y, _w[name + ".bias"].Select(b => (double)b).ToArray()) : y;
    }

    private double[] LayerNorm(double[] x, string name)
    {
        var mean = x.Average();
        var variance = x.Sum(z => (z - mean) * (z - mean)) / x.Length;
        var scale = 1 / Math.Sqrt(variance + _s.Eps);
        var weight = _w[name + ".weight"];
        var bias = _w[name + ".bias"];
        return x.Select((z, i) => ((z - mean) * scale * weight[i]) + bias[i]).ToArray();
    }

    private static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf by its Maclaurin series (|x| small) or continued fraction tail, to ~1e-12: .NET has no Math.Erf.</summary>
    private static double Erf(double x)
    {
        var sign = Math.Sign(x);
        x = Math.Abs(x);
        if (x < 3)
        {
            double sum = 0, term = x;
            for (var n = 0; n < 100; n++)
            {
                sum += term / ((2 * n) + 1);
                term *= -x * x / (n + 1);
                if (Math.Abs(term) < 1e-17)
                {
                    break;
                }
            }

            return sign * 2 / Math.Sqrt(Math.PI) * sum;
        }

        // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) for large x.
        double fraction = 0;
        for (var n = 60; n >= 1; n--)
        {
            fraction = n / 2.0 / (x + fraction);
        }

        return sign * (1 - (Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + fraction)));
    }

    private static double[] Add(double[] a, double[] b) => a.Select((z, i) => z + b[i]).ToArray();
}

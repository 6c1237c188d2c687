using Distil.Engine.Model;
using Distil.Engine.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace Distil.Engine.Embedding;

/// <summary>
/// A local sentence-embedding model (the sentence-transformers layout exported to ONNX, e.g. all-MiniLM-L6-v2): a
/// BERT encoder whose token states are averaged over the attention mask (padding never counts) and scaled to unit
/// length, so the cosine of two texts is the dot product of their vectors. The folder holds <c>model.onnx</c> (or
/// <c>onnx/model.onnx</c>) and the WordPiece <c>vocab.txt</c>. Not thread-safe: one caller at a time.
/// </summary>
public sealed class SentenceEmbedder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly string _output;
    private readonly bool _tokenTypes;
    private readonly int _maxTokens;

    private SentenceEmbedder(InferenceSession session, BertTokenizer tokenizer, string output, bool tokenTypes, int dimensions, int maxTokens)
    {
        _session = session;
        _tokenizer = tokenizer;
        _output = output;
        _tokenTypes = tokenTypes;
        Dimensions = dimensions;
        _maxTokens = maxTokens;
    }

    /// <summary>Length of each embedding (384 for all-MiniLM-L6-v2).</summary>
    public int Dimensions { get; }

    /// <param name="maxTokens">Tokens per text, [CLS] and [SEP] included; longer texts are cut (all-MiniLM-L6-v2 was trained on 256).</param>
    /// <param name="threads">Intra-op threads (0 = ONNX Runtime's default).</param>
    public static SentenceEmbedder Open(string folder, int maxTokens = 256, int threads = 0)
    {
        var modelFile = new[] { Path.Combine(folder, "model.onnx"), Path.Combine(folder, "onnx", "model.onnx") }.FirstOrDefault(File.Exists)
            ?? throw new ModelFormatException(folder, "no model.onnx (or onnx/model.onnx) in the embedding model folder");
        var vocabFile = Path.Combine(folder, "vocab.txt");
        if (!File.Exists(vocabFile))
        {
            throw new ModelFormatException(folder, "no vocab.txt (the WordPiece vocabulary) in the embedding model folder");
        }

        var tokenizer = BertTokenizer.Create(vocabFile, new BertOptions { LowerCaseBeforeTokenization = true });
        var session = OrtEnvironment.OpenSession(modelFile, threads, ExecutionDevice.Cpu);

        try
        {
            foreach (var input in new[] { "input_ids", "attention_mask" })
            {
                if (!session.InputMetadata.ContainsKey(input))
                {
                    throw new ModelFormatException(modelFile, $"an encoder needs the input '{input}' (it has: {string.Join(", ", session.InputMetadata.Keys)})");
                }
            }

            // Token states [batch, tokens, hidden]: 'last_hidden_state' in Optimum and sentence-transformers exports.
            var output = session.OutputMetadata.FirstOrDefault(o => o.Key == "last_hidden_state").Key
                ?? session.OutputMetadata.FirstOrDefault(o => o.Value.Dimensions.Length == 3).Key
                ?? throw new ModelFormatException(modelFile, $"no output of token states [batch, tokens, hidden] (it has: {string.Join(", ", session.OutputMetadata.Keys)})");
            var hidden = session.OutputMetadata[output].Dimensions[2];
            return new SentenceEmbedder(session, tokenizer, output, session.InputMetadata.ContainsKey("token_type_ids"), hidden, Math.Max(2, maxTokens));
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The unit-length embedding of each text, in order.</summary>
    public float[][] Embed(IReadOnlyList<string> texts)
    {
        if (texts.Count == 0)
        {
            return [];
        }

        var tokens = texts.Select(Tokenize).ToList();
        var batch = tokens.Count;
        var width = tokens.Max(t => t.Count);
        var ids = new long[batch * width];
        var mask = new long[batch * width];
        for (var row = 0; row < batch; row++)
        {
            for (var i = 0; i < tokens[row].Count; i++)
            {
                ids[(row * width) + i] = tokens[row][i];
                mask[(row * width) + i] = 1;
            }
        }

        using var idValue = OrtValue.CreateTensorValueFromMemory(ids, [batch, width]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [batch, width]);
        using var typeValue = _tokenTypes ? OrtValue.CreateTensorValueFromMemory(new long[batch * width], [batch, width]) : null;
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue> { idValue, maskValue };
        if (typeValue is not null)
        {
            names.Add("token_type_ids");
            values.Add(typeValue);
        }

        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, names, values, [_output]);
        var states = outputs[0].GetTensorDataAsSpan<float>();
        var hidden = (int)outputs[0].GetTensorTypeAndShape().Shape[2];
        var embeddings = new float[batch][];
        for (var row = 0; row < batch; row++)
        {
            embeddings[row] = MeanPool(states.Slice(row * width * hidden, width * hidden), tokens[row].Count, hidden);
        }

        return embeddings;
    }

    /// <summary>The cosine of two unit vectors.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var dot = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
        }

        return dot;
    }

    private IReadOnlyList<int> Tokenize(string text)
    {
        var ids = _tokenizer.EncodeToIds(text, addSpecialTokens: true);
        if (ids.Count <= _maxTokens)
        {
            return ids;
        }

        // Cut the middle off but keep the closing [SEP], as the model saw in training.
        return ids.Take(_maxTokens - 1).Append(_tokenizer.SeparatorTokenId).ToList();
    }

    /// <summary>
    /// The average of the first <paramref name="count"/> token states (the real ones: padding follows them), made unit
    /// length. The sum stands for the average: dividing by the count changes no direction.
    /// </summary>
    private static float[] MeanPool(ReadOnlySpan<float> states, int count, int hidden)
    {
        var sum = new double[hidden];
        for (var token = 0; token < count; token++)
        {
            var state = states.Slice(token * hidden, hidden);
            for (var i = 0; i < hidden; i++)
            {
                sum[i] += state[i];
            }
        }

        var norm = Math.Sqrt(sum.Sum(v => v * v));
        return sum.Select(v => norm > 0 ? (float)(v / norm) : 0f).ToArray();
    }

    public void Dispose() => _session.Dispose();
}

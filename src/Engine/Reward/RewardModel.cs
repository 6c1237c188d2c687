using Distil.Engine.Model;
using Distil.Engine.Onnx;
using Distil.Engine.Text;
using Distil.Engine.Text.Tokenizers;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;

namespace Distil.Engine.Reward;

/// <summary>
/// A local reward model: any <c>*ForSequenceClassification</c> ONNX export with one label (Optimum's layout:
/// inputs <c>input_ids</c>, <c>attention_mask</c> and optionally <c>position_ids</c>; output <c>logits</c>
/// [batch, 1]). Each (prompt, response) is rendered with the model's chat template as a user turn and an assistant
/// turn, tokenized, padded on the folder's padding side with its pad id, and scored; the score is the graph's logit
/// for that row, so whatever pooling the export does (Llama's: the last non-pad token) is the model's own.
/// </summary>
/// <remarks>
/// Length rule (<see cref="RewardLengthRule"/>): a rendered pair longer than the limit (default the model's
/// <see cref="ContextLength"/>) gets no score (null) unless the rule truncates, in which case its first tokens are cut
/// so that the last ones remain (the response's end, where a classifier reads its score, is kept). A folder without
/// a pad id is scored one pair per call, since there is no way to pad it.
/// </remarks>
public sealed class RewardModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ModelTokenizer _tokenizer;
    private readonly IChatTemplate _template;
    private readonly bool _positions;
    private readonly bool _padLeft;
    private readonly long? _padId;

    private RewardModel(string folder, InferenceSession session, ModelTokenizer tokenizer, IChatTemplate template, RewardModelFolder layout, int contextLength)
    {
        Folder = folder;
        _session = session;
        _tokenizer = tokenizer;
        _template = template;
        _positions = session.InputMetadata.ContainsKey("position_ids");
        _padLeft = layout.PadLeft;
        _padId = layout.PadTokenId ?? (layout.PadToken is { } token ? tokenizer.TokenId(token) : null);
        ContextLength = contextLength;
    }

    public string Folder { get; }

    /// <summary>The longest input the model takes (max_position_embeddings, else the tokenizer's model_max_length).</summary>
    public int ContextLength { get; }

    /// <summary>Whether rows can share a call (the folder names a pad id); otherwise each pair is scored alone.</summary>
    public bool CanBatch => _padId is not null;

    /// <summary>Whether <paramref name="folder"/>'s config.json names a sequence classifier (what <see cref="Open"/> expects).</summary>
    public static bool IsRewardModelFolder(string folder) => RewardModelFolder.IsSequenceClassifier(folder);

    /// <summary>Opens a reward model folder.</summary>
    /// <exception cref="ModelFormatException">The folder is not a one-label sequence classifier, or its graph does not have that interface.</exception>
    /// <exception cref="TokenizerFormatException">The tokenizer cannot be read.</exception>
    /// <exception cref="ArgumentException">No chat template can be found, or the override names none.</exception>
    public static RewardModel Open(string folder, RewardModelOptions? options = null)
    {
        options ??= new RewardModelOptions();
        var layout = RewardModelFolder.Read(folder);
        var tokenizer = ModelTokenizer.Load(folder);
        var template = ChatTemplates.ForModel(folder, options.ChatTemplate);
        var contextLength = layout.ContextLength
            ?? throw new ModelFormatException(layout.ConfigFile, "field 'max_position_embeddings' is missing (and tokenizer_config.json has no model_max_length); say how long an input the model takes");
        var session = OrtEnvironment.OpenSession(layout.ModelFile, options.Threads, options.Device ?? ExecutionDevice.Cpu);
        try
        {
            CheckInterface(session, layout.ModelFile);
            return new RewardModel(folder, session, tokenizer, template, layout, Math.Max(1, contextLength));
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The tokens a pair is scored on: user turn <paramref name="prompt"/>, assistant turn <paramref name="response"/>.</summary>
    public int[] Tokenize(string prompt, string response) =>
        _tokenizer.Encode(_template.Render([new ChatMessage(ChatRole.User, prompt), new ChatMessage(ChatRole.Assistant, response)], addGenerationPrompt: false), parseSpecialTokens: true);

    /// <summary>
    /// The score of each pair, in order, computed <paramref name="batchSize"/> pairs per call (pairs of similar
    /// length share a call, so padding stays small); null for a pair over the limit of <paramref name="length"/>.
    /// </summary>
    public float?[] Score(IReadOnlyList<(string Prompt, string Response)> pairs, int batchSize, RewardLengthRule? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var limit = Math.Min(length?.MaxTokens ?? ContextLength, ContextLength);
        var tokens = pairs.Select(p => Fit(Tokenize(p.Prompt, p.Response), limit, length?.TruncateLeft ?? false)).ToArray();
        var scores = new float?[pairs.Count];
        var order = Enumerable.Range(0, pairs.Count).Where(i => tokens[i] is not null).OrderBy(i => tokens[i]!.Length).ToList();
        foreach (var chunk in order.Chunk(CanBatch ? batchSize : 1))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var logits = ScoreTokens(chunk.Select(i => tokens[i]!).ToList());
            for (var j = 0; j < chunk.Length; j++)
            {
                scores[chunk[j]] = logits[j];
            }
        }

        return scores;
    }

    /// <summary>Runs one call of the graph on already tokenized rows, padded to the longest; one logit per row.</summary>
    public float[] ScoreTokens(IReadOnlyList<int[]> rows)
    {
        if (rows.Count == 0)
        {
            return [];
        }

        var batch = rows.Count;
        var width = rows.Max(r => r.Length);
        if (batch > 1 && _padId is null)
        {
            throw new InvalidOperationException($"{Folder}: the model names no pad id (pad_token_id), so rows cannot share a call");
        }

        var ids = new long[batch * width];
        var mask = new long[batch * width];
        var positions = new long[batch * width];
        for (var row = 0; row < batch; row++)
        {
            var tokens = rows[row];
            var offset = _padLeft ? width - tokens.Length : 0;
            for (var col = 0; col < width; col++)
            {
                var index = (row * width) + col;
                var real = col >= offset && col < offset + tokens.Length;
                ids[index] = real ? tokens[col - offset] : _padId ?? 0;
                mask[index] = real ? 1 : 0;
                positions[index] = Math.Max(0, col - offset);
            }
        }

        using var idValue = OrtValue.CreateTensorValueFromMemory(ids, [batch, width]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [batch, width]);
        using var positionValue = _positions ? OrtValue.CreateTensorValueFromMemory(positions, [batch, width]) : null;
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue> { idValue, maskValue };
        if (positionValue is not null)
        {
            names.Add("position_ids");
            values.Add(positionValue);
        }

        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, names, values, ["logits"]);
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        var labels = logits.Length / batch;
        var scores = new float[batch];
        for (var row = 0; row < batch; row++)
        {
            scores[row] = logits[row * labels];
        }

        return scores;
    }

    private static int[]? Fit(int[] tokens, int limit, bool truncateLeft) =>
        tokens.Length <= limit ? tokens : truncateLeft ? tokens[^limit..] : null;

    /// <summary>The sequence-classification interface: token ids and mask in (positions optional), no KV cache,
    /// <c>logits</c> [batch, labels] out.</summary>
    private static void CheckInterface(InferenceSession session, string modelFile)
    {
        var inputs = session.InputMetadata.Keys.ToList();
        foreach (var required in new[] { "input_ids", "attention_mask" })
        {
            if (!inputs.Contains(required))
            {
                throw new ModelFormatException(modelFile, $"a sequence classifier needs the input '{required}' (the graph has: {string.Join(", ", inputs)})");
            }
        }

        if (inputs.FirstOrDefault(i => i is not ("input_ids" or "attention_mask" or "position_ids")) is { } other)
        {
            throw new ModelFormatException(modelFile, other.StartsWith("past_key_values", StringComparison.Ordinal)
                ? $"the graph takes '{other}': it is a decoder with a KV cache (text generation), not a sequence classifier"
                : $"the graph takes the input '{other}', which a sequence classifier export does not have (expected input_ids, attention_mask, position_ids)");
        }

        if (!session.OutputMetadata.TryGetValue("logits", out var logits))
        {
            throw new ModelFormatException(modelFile, $"the graph has no output 'logits' (it has: {string.Join(", ", session.OutputMetadata.Keys)})");
        }

        if (logits.Dimensions.Length != 2 || logits.Dimensions[1] > 1)
        {
            throw new ModelFormatException(modelFile, $"output 'logits' has shape [{string.Join(", ", logits.Dimensions)}]; a reward model gives [batch, 1] (one score per sequence)");
        }
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>How a <see cref="RewardModel"/> is opened.</summary>
public sealed record RewardModelOptions
{
    /// <summary>Intra-op threads (0 = ONNX Runtime's default).</summary>
    public int Threads { get; init; }

    public ExecutionDevice? Device { get; init; }

    /// <summary>A built-in template name or a Jinja file instead of the folder's own template.</summary>
    public string? ChatTemplate { get; init; }
}

/// <summary>What happens to a rendered pair longer than <paramref name="MaxTokens"/> (capped at the model's context):
/// left unscored, or with <paramref name="TruncateLeft"/> cut from the start so that its last tokens are scored.</summary>
public sealed record RewardLengthRule(int? MaxTokens, bool TruncateLeft);

using Distil.Engine.Model;
using System.Text.Json.Nodes;
using Distil.Engine.Building;
using Distil.Engine.Reward;
using Distil.Engine.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace Distil.Engine.Tests;

/// <summary>The tiny-reward preset (LlamaForSequenceClassification, one label) and <see cref="RewardModel"/> on a
/// real ONNX Runtime session: scores are the graph's logit at each pair's last real token, independent of batching.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class RewardModelTests(TinyModels models, RewardModelTests.RewardFolder reward) : IClassFixture<RewardModelTests.RewardFolder>
{
    private static readonly (string Prompt, string Response)[] Pairs =
    [
        ("What is the capital of France?", "Paris."),
        ("What is the capital of France?", "The capital of France is Paris, on the Seine; it has been the capital since the tenth century."),
        ("Write a haiku about rain.", "Soft rain on the roof / the gutters hum their one note / the cat stays inside"),
        ("2+2?", "4"),
        ("Name three colours.", "Red, green and blue."),
    ];

    public sealed class RewardFolder : IDisposable
    {
        private readonly TempFolder _temp = new("distil-reward");

        public RewardFolder()
        {
            Path = _temp.Sub("tiny-reward");
            ModelBuilder.BuildPreset("tiny-reward", 7, Path);
        }

        public string Path { get; }

        public string Copy(string name)
        {
            var target = _temp.Sub($"{name}-{Guid.NewGuid():N}");
            foreach (var file in Directory.GetFiles(Path, "*", SearchOption.AllDirectories))
            {
                var destination = System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(Path, file));
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(destination)!);
                File.Copy(file, destination);
            }

            return target;
        }

        public void Dispose() => _temp.Dispose();
    }

    private readonly RewardFolder _reward = reward;

    [Fact]
    public void Preset_is_a_one_label_sequence_classifier_without_a_cache()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_reward.Path, "config.json")))!;
        Assert.Equal("LlamaForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal(1, config["num_labels"]!.GetValue<int>());
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(_reward.Path, "tokenizer_config.json")))!;
        Assert.Equal("right", tokenizerConfig["padding_side"]!.GetValue<string>());
        Assert.Equal("<|finetune_right_pad_id|>", tokenizerConfig["pad_token"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(_reward.Path, "chat_template.jinja")) || tokenizerConfig["chat_template"] is not null);

        using var session = new InferenceSession(Path.Combine(_reward.Path, "onnx", "model.onnx"));
        Assert.Equal(["attention_mask", "input_ids", "position_ids"], session.InputMetadata.Keys.Order());
        Assert.Equal(["logits"], session.OutputMetadata.Keys);
        Assert.Equal([-1, 1], session.OutputMetadata["logits"].Dimensions);
    }

    [Fact]
    public void Same_seed_builds_identical_files()
    {
        using var temp = new TempFolder();
        ModelBuilder.BuildPreset("tiny-reward", 7, temp.Sub("again"));
        foreach (var file in new[] { "config.json", "tokenizer_config.json", "onnx/model.onnx" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_reward.Path, file)), File.ReadAllBytes(Path.Combine(temp.Sub("again"), file)));
        }
    }

    [Fact]
    public void Score_is_the_reference_forward_pass_read_at_the_last_token()
    {
        using var model = RewardModel.Open(_reward.Path, new RewardModelOptions { Threads = 1 });
        var (config, _) = ModelPreset.Get("tiny-reward");
        var random = new RandomLlamaWeights(config, 7);
        var weights = LlamaWeightNames.All(config).ToDictionary(x => x.Name, x => random.Read(x.Name, out _));
        // The reference's untied head with one output is exactly the score head.
        weights["lm_head.weight"] = weights[LlamaWeightNames.Score];
        var s = config.RopeScaling!;
        var shape = new ReferenceShape(config.HiddenSize, config.IntermediateSize, config.NumLayers, config.NumHeads, config.NumKvHeads, config.HeadDim, 1, config.RmsNormEps, config.RopeTheta, false, (s.Factor, s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings));
        var reference = new ReferenceLlama(shape, weights);

        foreach (var (prompt, response) in Pairs.Take(2))
        {
            var tokens = model.Tokenize(prompt, response);
            var expected = reference.Logits(tokens)[^1][0];
            var scored = model.Score([(prompt, response)], batchSize: 1)[0]!.Value;
            Assert.True(Math.Abs(expected - scored) <= 1e-4, $"reference {expected} vs graph {scored}");
        }
    }

    [Fact]
    public void Rendering_is_the_chat_template_with_a_user_and_an_assistant_turn()
    {
        using var model = RewardModel.Open(_reward.Path, new RewardModelOptions { Threads = 1 });
        var tokenizer = Distil.Engine.Text.ModelTokenizer.Load(_reward.Path);
        var text = tokenizer.Decode(model.Tokenize("Hi there", "Hello!"));
        Assert.Contains("<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>", text, StringComparison.Ordinal);
        Assert.EndsWith("<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Batching_and_padding_do_not_change_scores()
    {
        using var model = RewardModel.Open(_reward.Path, new RewardModelOptions { Threads = 1 });
        var alone = model.Score(Pairs, batchSize: 1);
        var together = model.Score(Pairs, batchSize: 5);
        var inTwos = model.Score(Pairs.Reverse().ToArray(), batchSize: 2).Reverse().ToArray();
        for (var i = 0; i < Pairs.Length; i++)
        {
            Assert.True(Math.Abs(alone[i]!.Value - together[i]!.Value) <= 1e-5, $"pair {i}: {alone[i]} alone vs {together[i]} in a batch of 5");
            Assert.True(Math.Abs(alone[i]!.Value - inTwos[i]!.Value) <= 1e-5, $"pair {i}: {alone[i]} alone vs {inTwos[i]} in twos");
        }

        // Scores differ between responses: the head reads the response, not a constant.
        Assert.True(alone.Distinct().Count() >= 4, string.Join(", ", alone));
    }

    [Fact]
    public void Over_long_pairs_are_left_unscored_or_cut_from_the_start()
    {
        var longPair = ("Tell me a story.", string.Join(" ", Enumerable.Repeat("Once upon a time there was a model.", 20)));
        var shortPair = Pairs[3];
        using var model = RewardModel.Open(_reward.Path, new RewardModelOptions { Threads = 1 });
        Assert.Equal(4096, model.ContextLength); // the preset's max_position_embeddings: the default limit
        var tokens = model.Tokenize(longPair.Item1, longPair.Item2);
        var limit = tokens.Length - 10;
        var refused = model.Score([longPair, shortPair], batchSize: 2, new RewardLengthRule(limit, TruncateLeft: false));
        Assert.Null(refused[0]);
        Assert.NotNull(refused[1]);
        Assert.NotNull(model.Score([longPair], batchSize: 1)[0]);

        var cut = model.Score([longPair, shortPair], batchSize: 2, new RewardLengthRule(limit, TruncateLeft: true));
        var lastTokens = model.ScoreTokens([tokens[^limit..]])[0];
        Assert.Equal(lastTokens, cut[0]!.Value, 5);
        Assert.Equal(refused[1]!.Value, cut[1]!.Value, 5);
    }

    [Fact]
    public void A_causal_language_model_folder_is_refused_naming_its_config()
    {
        var e = Assert.Throws<ModelFormatException>(() => RewardModel.Open(models.A));
        Assert.EndsWith("config.json", e.File, StringComparison.Ordinal);
        Assert.Contains("architectures", e.Problem, StringComparison.Ordinal);
        Assert.Contains("LlamaForCausalLM", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_classifier_config_over_a_decoder_graph_is_refused_naming_the_graph()
    {
        var folder = models.CopyOfA("reward-over-decoder");
        var configFile = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configFile))!.AsObject();
        config["architectures"] = new JsonArray("LlamaForSequenceClassification");
        config["num_labels"] = 1;
        File.WriteAllText(configFile, config.ToJsonString());

        var e = Assert.Throws<ModelFormatException>(() => RewardModel.Open(folder));
        Assert.EndsWith("model.onnx", e.File, StringComparison.Ordinal);
        Assert.Contains("past_key_values", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_one_label_is_refused()
    {
        var folder = _reward.Copy("two-labels");
        var configFile = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configFile))!.AsObject();
        config["num_labels"] = 2;
        File.WriteAllText(configFile, config.ToJsonString());

        var e = Assert.Throws<ModelFormatException>(() => RewardModel.Open(folder));
        Assert.Equal(configFile, e.File);
        Assert.Contains("num_labels", e.Problem, StringComparison.Ordinal);
    }
}

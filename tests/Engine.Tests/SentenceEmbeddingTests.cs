using System.Text.Json;
using Distil.Engine.Embedding;
using Distil.Engine.Tests.Support;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Engine.Tests;

/// <summary>
/// Sentence embeddings from a real model (all-MiniLM-L6-v2, ONNX, WordPiece through Microsoft.ML.Tokenizers'
/// BertTokenizer) and embedding_dedup on top of them: paraphrases land close, unrelated texts far, padding never
/// moves a vector, and the step keeps the first of each group of paraphrases.
/// </summary>
public sealed class SentenceEmbeddingTests
{
    private static readonly string[][] Paraphrases =
    [
        ["How do I reset my password?", "What are the steps to change my account password?"],
        ["The cat is sleeping on the sofa.", "A cat is napping on the couch."],
        ["What is the capital city of France?", "Which city is the capital of France?"],
    ];

    private static readonly string[] Unrelated =
    [
        "Add two cups of flour and a pinch of salt to the bowl.",
        "The stock market fell sharply after the interest rate announcement.",
        "Photosynthesis converts light energy into chemical energy in plants.",
    ];

    [Fact]
    public void Paraphrases_are_close_and_unrelated_texts_far()
    {
        using var embedder = SentenceEmbedder.Open(MiniLmModel.Folder, threads: 1);
        var texts = Paraphrases.SelectMany(p => p).Concat(Unrelated).ToList();
        var vectors = embedder.Embed(texts);

        Assert.Equal(384, embedder.Dimensions); // all-MiniLM-L6-v2's width: the package holds the model it claims to
        Assert.All(vectors, v => Assert.Equal(embedder.Dimensions, v.Length));
        Assert.All(vectors, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4));
        for (var p = 0; p < Paraphrases.Length; p++)
        {
            var close = SentenceEmbedder.Cosine(vectors[2 * p], vectors[(2 * p) + 1]);
            Assert.True(close > 0.75, $"{Paraphrases[p][0]} | {Paraphrases[p][1]}: {close:F3}");
            for (var u = 0; u < Unrelated.Length; u++)
            {
                var far = SentenceEmbedder.Cosine(vectors[2 * p], vectors[(2 * Paraphrases.Length) + u]);
                Assert.True(far < 0.3, $"{Paraphrases[p][0]} | {Unrelated[u]}: {far:F3}");
            }
        }
    }

    [Fact]
    public void A_text_embeds_the_same_alone_and_padded_in_a_batch_with_a_long_one()
    {
        using var embedder = SentenceEmbedder.Open(MiniLmModel.Folder, threads: 1);
        var alone = embedder.Embed(["A cat is napping on the couch."])[0];
        var padded = embedder.Embed([string.Join(' ', Enumerable.Repeat("A much longer sentence about something else entirely.", 8)), "A cat is napping on the couch."])[1];
        Assert.True(SentenceEmbedder.Cosine(alone, padded) > 0.99999, "mean pooling must ignore padding");
        for (var i = 0; i < alone.Length; i++)
        {
            Assert.Equal(alone[i], padded[i], 4);
        }
    }

    [Fact]
    public async Task Embedding_dedup_keeps_the_first_of_each_paraphrase_group()
    {
        using var folder = new TempFolder();
        var texts = Paraphrases.Select(p => p[0]).Concat(Unrelated).Concat(Paraphrases.Select(p => p[1])).ToList();
        Directory.CreateDirectory(folder.Sub("data"));
        File.WriteAllLines(folder.Sub("data/texts.jsonl"), texts.Select((t, i) => JsonSerializer.Serialize(new { text = t, n = i })));
        var json = $$"""
            { "name": "e", "steps": [
              { "name": "load", "type": "load_jsonl", "path": "data/texts.jsonl" },
              { "name": "semantic", "type": "embedding_dedup", "column": "text", "embedding_model": {{JsonSerializer.Serialize(MiniLmModel.Folder)}}, "threshold": 0.75, "threads": 1, "input_batch_size": 4 },
              { "name": "out", "type": "write_jsonl", "path": "out.jsonl" } ] }
            """;
        var path = folder.Sub("e.json");
        File.WriteAllText(path, json);
        var definition = PipelineDefinition.Parse(json, path, BuiltInSteps.CreateRegistry());
        var manifest = await new PipelineRunner().RunAsync(definition, new RunOptions { RunsRoot = folder.Sub("runs"), OutputDirectory = folder.Sub("out") }, CancellationToken.None);

        var kept = File.ReadAllLines(folder.Sub("out/out.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()).ToList();
        Assert.Equal(Paraphrases.Select(p => p[0]).Concat(Unrelated), kept);
        Assert.Equal(Paraphrases.Length, manifest.Steps.Single(s => s.Name == "semantic").Dropped["semantic_duplicate"]);
    }

    [Fact]
    public void A_missing_model_folder_is_a_located_error()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Sub("t.jsonl"), "{\"text\": \"x\"}\n");
        var json = """
            { "name": "e", "steps": [
              { "name": "load", "type": "load_jsonl", "path": "t.jsonl" },
              { "name": "semantic", "type": "embedding_dedup", "column": "text", "embedding_model": "no-such-model" },
              { "name": "out", "type": "write_jsonl", "path": "out.jsonl" } ] }
            """;
        var e = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, folder.Sub("e.json"), BuiltInSteps.CreateRegistry()));
        Assert.Equal("$.steps[1].embedding_model", e.JsonPath);
    }
}

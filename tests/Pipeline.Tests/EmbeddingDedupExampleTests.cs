using System.Text.Json;
using Distil.Engine.Embedding;

namespace Distil.Pipeline.Tests;

/// <summary>pipelines/embedding-dedup-example.json, as shipped, run by the real CLI with all-MiniLM-L6-v2 placed where it expects the model.</summary>
public sealed class EmbeddingDedupExampleTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Paraphrases_that_minhash_keeps_are_removed_by_meaning()
    {
        var shipped = Path.Combine(TestRepository.Root, "pipelines");
        var pipelines = Path.Combine(_ws.Root, "pipelines");
        Directory.CreateDirectory(Path.Combine(pipelines, "data"));
        Directory.CreateDirectory(Path.Combine(pipelines, "models"));
        File.Copy(Path.Combine(shipped, "embedding-dedup-example.json"), Path.Combine(pipelines, "embedding-dedup-example.json"));
        File.Copy(Path.Combine(shipped, "data", "prompts-near-duplicates.jsonl"), Path.Combine(pipelines, "data", "prompts-near-duplicates.jsonl"));
        Directory.CreateSymbolicLink(Path.Combine(pipelines, "models", "all-MiniLM-L6-v2"), MiniLmModel.Folder);

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", Path.Combine(pipelines, "embedding-dedup-example.json"), "--runs", "runs", "--output", "out");
        Assert.True(code == 0, stderr);

        var kept = (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Root, "out", "prompts.parquet"))).Select(r => (string)r["instruction"]).ToList();
        Assert.DoesNotContain("Why is the sky blue in the daytime but reddish at dusk?", kept);
        Assert.DoesNotContain("Why does a cat purr? Is it always a sign that it is content?", kept);
        Assert.DoesNotContain("What are some good habits for writing commit messages when working with other developers?", kept);
        Assert.Contains("Explain why the sky looks blue during the day and red at sunset.", kept);

        // Greedy keep-first leaves no two kept prompts at or above the threshold.
        using var embedder = SentenceEmbedder.Open(MiniLmModel.Folder, threads: 1);
        var vectors = embedder.Embed(kept);
        for (var i = 0; i < kept.Count; i++)
        {
            for (var j = i + 1; j < kept.Count; j++)
            {
                Assert.True(SentenceEmbedder.Cosine(vectors[i], vectors[j]) < 0.7, $"{kept[i]} | {kept[j]}");
            }
        }

        var manifest = RunManifest.Read(Directory.GetFiles(Path.Combine(_ws.Root, "runs"), RunManifest.FileName, SearchOption.AllDirectories).Single());
        var semantic = manifest.Steps.Single(s => s.Name == "same_meaning").Dropped[Distil.Steps.EmbeddingDedup.SemanticDuplicate];
        Assert.True(semantic >= 3);
        Assert.Contains($"dropped semantic_duplicate {semantic}", stdout);
        Assert.Contains($"| semantic duplicates removed (embedding cosine) | {semantic} |", File.ReadAllText(Path.Combine(_ws.Root, "out", "README.md")));
    }
}

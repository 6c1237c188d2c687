using System.Text.Json;
using System.Text.RegularExpressions;
using Distil.Steps;

namespace Distil.Pipeline.Tests;

/// <summary>
/// minhash_dedup against an independent computation: the exact Jaccard similarity of every pair of shingle sets,
/// worked out here with strings and sets. Pairs well above the threshold must land in one cluster; a row may only be
/// dropped for resembling an earlier row that is not far below it.
/// </summary>
public sealed partial class NearDuplicateTests : IDisposable
{
    private const double Threshold = 0.7;
    private const double MustMerge = 0.9;
    private const double FarBelow = 0.35;

    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Theory]
    [InlineData("word", 3)]
    [InlineData("char", 5)]
    public async Task Pairs_above_the_threshold_merge_and_pairs_far_below_do_not(string shingle, int n)
    {
        var texts = Corpus(clusters: 30, seed: 7);
        WriteTexts(texts);
        var rows = await RunAsync($$"""
            "shingle": "{{shingle}}", "ngram": {{n}}, "num_perm": 256, "threshold": {{Threshold}}, "duplicate_of": "duplicate_of"
            """);
        Assert.Equal(texts.Count, rows.Count);
        var duplicateOf = rows.ToDictionary(r => r.GetProperty("n").GetInt32(), r => r.GetProperty("duplicate_of") is { ValueKind: JsonValueKind.Number } d ? (int?)d.GetInt64() : null);
        var sets = texts.Select(t => Shingles(t, shingle, n)).ToList();

        var merged = 0;
        for (var j = 0; j < texts.Count; j++)
        {
            for (var i = 0; i < j; i++)
            {
                if (Jaccard(sets[i], sets[j]) >= MustMerge)
                {
                    Assert.True(duplicateOf[j] is not null, $"rows {i} and {j} (Jaccard {Jaccard(sets[i], sets[j]):F2}) were not merged");
                    merged++;
                }
            }

            if (duplicateOf[j] is { } first)
            {
                Assert.True(first < j && duplicateOf[first] is null, $"row {j} points at {first}, which is not an earlier kept row");
                var closest = Enumerable.Range(0, j).Max(i => Jaccard(sets[i], sets[j]));
                Assert.True(closest > FarBelow, $"row {j} was dropped though no earlier row is closer than {closest:F2}");
            }
        }

        Assert.True(merged >= 30, $"the corpus must hold near pairs to test ({merged})");
        Assert.Contains(duplicateOf.Values, v => v is null);
    }

    [Fact]
    public async Task Dropping_counts_the_same_rows_that_duplicate_of_marks_and_runs_repeat_exactly()
    {
        var texts = Corpus(clusters: 12, seed: 3);
        WriteTexts(texts);
        var marked = await RunAsync("""
            "duplicate_of": "duplicate_of", "input_batch_size": 7
            """);
        var expectedKept = marked.Where(r => r.GetProperty("duplicate_of").ValueKind == JsonValueKind.Null).Select(r => r.GetProperty("n").GetInt32()).ToList();

        var (kept, manifest) = await RunWithManifestAsync(string.Empty);
        Assert.Equal(expectedKept, kept.Select(r => r.GetProperty("n").GetInt32()));
        var step = manifest.Steps.Single(s => s.Name == "near");
        Assert.Equal(texts.Count - expectedKept.Count, step.Dropped[MinHashDedup.NearDuplicate]);
        Assert.True(step.Dropped[MinHashDedup.NearDuplicate] > 0);

        var (again, _) = await RunWithManifestAsync(string.Empty, fresh: true);
        Assert.Equal(expectedKept, again.Select(r => r.GetProperty("n").GetInt32()));
    }

    [Fact]
    public void The_threshold_places_the_steep_part_of_the_curve()
    {
        foreach (var (threshold, permutations) in new[] { (0.5, 128), (0.8, 128), (0.7, 256) })
        {
            var bands = LshBands.For(threshold, permutations);
            Assert.True(bands.Bands * bands.Rows <= permutations);
            Assert.True(LshBands.Collision(threshold + 0.15, bands.Bands, bands.Rows) > 0.9, $"{threshold}: {bands}");
            Assert.True(LshBands.Collision(threshold - 0.25, bands.Bands, bands.Rows) < 0.1, $"{threshold}: {bands}");
        }
    }

    [Theory]
    [InlineData("""{ "name": "near", "type": "minhash_dedup" }""", "$.steps[1]")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "columns": ["text"] }""", "$.steps[1].columns")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "shingle": "token" }""", "$.steps[1].shingle")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "threshold": 1.5 }""", "$.steps[1].threshold")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "bands": 4 }""", "$.steps[1].rows")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "bands": 20, "rows": 8 }""", "$.steps[1].rows")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "bands": 8, "rows": 8, "threshold": 0.8 }""", "$.steps[1].threshold")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "ngram": 0 }""", "$.steps[1].ngram")]
    [InlineData("""{ "name": "near", "type": "minhash_dedup", "column": "text", "max_parallelism": 2 }""", "$.steps[1].max_parallelism")]
    public void Bad_settings_are_located(string step, string path)
    {
        WriteTexts(["a text"]);
        var e = Assert.Throws<PipelineDefinitionException>(() => _ws.Define($$"""
            { "name": "t", "steps": [
              { "name": "load", "type": "load_jsonl", "path": "data/texts.jsonl" },
              {{step}},
              { "name": "out", "type": "write_jsonl", "path": "out.jsonl" } ] }
            """));
        Assert.Equal(path, e.JsonPath);
    }

    /// <summary>
    /// Clusters of 60-word texts over random words: a base, two copies with one word changed (Jaccard about 0.9 to
    /// the base), one with ten words changed (about 0.3) and one with a third of its words changed (near 0); shuffled,
    /// so that clusters interleave and the first member is not always the base.
    /// </summary>
    internal static List<string> Corpus(int clusters, int seed)
    {
        var random = new Random(seed);
        var vocabulary = Enumerable.Range(0, 3000).Select(_ => new string(Enumerable.Range(0, random.Next(3, 9)).Select(_ => (char)('a' + random.Next(26))).ToArray())).ToArray();
        string Word() => vocabulary[random.Next(vocabulary.Length)];
        string Change(string[] words, IEnumerable<int> positions)
        {
            var copy = (string[])words.Clone();
            foreach (var p in positions)
            {
                copy[p] = Word();
            }

            return string.Join(' ', copy);
        }

        var texts = new List<string>();
        for (var c = 0; c < clusters; c++)
        {
            var words = Enumerable.Range(0, 60).Select(_ => Word()).ToArray();
            texts.Add(string.Join(' ', words));
            texts.Add(Change(words, [random.Next(5, 55)]));
            texts.Add(Change(words, [random.Next(5, 55)]).ToUpperInvariant() + ".");
            texts.Add(Change(words, Enumerable.Range(0, 10).Select(i => (i * 6) + 2)));
            texts.Add(Change(words, Enumerable.Range(0, 20).Select(i => i * 3)));
        }

        return texts.OrderBy(_ => random.Next()).ToList();
    }

    /// <summary>The shingles as strings, computed without any of the step's code: lower-cased words (or their characters, words joined by one space), n at a time.</summary>
    internal static HashSet<string> Shingles(string text, string kind, int n)
    {
        var lower = text.ToLowerInvariant();
        if (kind == "word")
        {
            var words = NonWord().Split(lower).Where(w => w.Length > 0).ToArray();
            return Enumerable.Range(0, Math.Max(1, words.Length - n + 1)).Select(i => string.Join(' ', words.Skip(i).Take(n))).ToHashSet();
        }

        var chars = NonWord().Replace(lower, " ").Trim();
        return Enumerable.Range(0, Math.Max(1, chars.Length - n + 1)).Select(i => chars.Substring(i, Math.Min(n, chars.Length - i))).ToHashSet();
    }

    internal static double Jaccard(HashSet<string> a, HashSet<string> b) => a.Count(b.Contains) / (double)a.Union(b).Count();

    [GeneratedRegex(@"[^\p{L}\p{N}]+")]
    private static partial Regex NonWord();

    private void WriteTexts(IReadOnlyList<string> texts) =>
        _ws.Write("data/texts.jsonl", string.Concat(texts.Select((t, i) => JsonSerializer.Serialize(new { text = t, n = i }) + "\n")));

    private async Task<List<JsonElement>> RunAsync(string options) => (await RunWithManifestAsync(options)).Rows;

    private async Task<(List<JsonElement> Rows, RunManifest Manifest)> RunWithManifestAsync(string options, bool fresh = false)
    {
        var separator = options.Trim().Length > 0 ? ", " : string.Empty;
        var definition = _ws.Define($$"""
            { "name": "t", "steps": [
              { "name": "load", "type": "load_jsonl", "path": "data/texts.jsonl" },
              { "name": "near", "type": "minhash_dedup", "column": "text"{{separator}}{{options}} },
              { "name": "out", "type": "write_jsonl", "path": "out.jsonl" } ] }
            """);
        var manifest = await _ws.RunAsync(definition, _ws.Options(fresh));
        return (TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl")), manifest);
    }
}

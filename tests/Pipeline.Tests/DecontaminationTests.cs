using System.Text.Json;
using System.Text.RegularExpressions;
using Distil.Steps;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Distil.Pipeline.Tests;

/// <summary>
/// decontaminate against an independent computation: a row is contaminated when one of its runs of 13 lower-cased
/// words (as strings) is one of the eval set's, or when it contains a short eval text whole.
/// </summary>
public sealed partial class DecontaminationTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Theory]
    [InlineData("eval.jsonl")]
    [InlineData("eval.parquet")]
    public async Task Flags_exactly_the_rows_that_share_an_n_gram_with_the_eval_set(string evalFile)
    {
        var (evals, texts) = Data(seed: 11);
        await WriteEvalAsync(evalFile, evals);
        WriteTexts(texts);
        var rows = await RunAsync($$"""
            { "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/{{evalFile}}", "eval_column": "question", "mode": "flag" }
            """);

        var expected = texts.Select(t => Contaminated(t, evals, 13)).ToList();
        Assert.Equal(expected, rows.OrderBy(r => r.GetProperty("n").GetInt32()).Select(r => r.GetProperty("contaminated").GetBoolean()));
        Assert.Contains(true, expected);
        Assert.Contains(false, expected);
    }

    [Fact]
    public async Task Dropped_rows_are_counted_in_the_manifest_and_on_the_dataset_card()
    {
        var (evals, texts) = Data(seed: 5);
        await WriteEvalAsync("eval.jsonl", evals);
        WriteTexts(texts);
        var definition = _ws.Define("""
            { "name": "t", "steps": [
              { "name": "load", "type": "load_jsonl", "path": "data/texts.jsonl" },
              { "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/eval.jsonl", "eval_column": "question", "ngram": 8, "input_batch_size": 4 },
              { "name": "out", "type": "write_parquet", "after": ["decon"], "path": "data.parquet" },
              { "name": "card", "type": "dataset_card", "after": ["decon"], "data_files": ["data.parquet"] } ] }
            """);
        var manifest = await _ws.RunAsync(definition);

        var expected = texts.Select(t => Contaminated(t, evals, 8)).ToList();
        var kept = (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "data.parquet"))).Select(r => Convert.ToInt32(r["n"], System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
        Assert.Equal(Enumerable.Range(0, texts.Count).Where(i => !expected[i]), kept);
        var removed = expected.Count(c => c);
        Assert.Equal(removed, manifest.Steps.Single(s => s.Name == "decon").Dropped[Decontaminate.Contaminated]);
        var card = File.ReadAllText(Path.Combine(_ws.Outputs, "README.md"));
        Assert.Contains($"| contaminated rows removed (eval n-gram overlap) | {removed} |", card);
    }

    [Theory]
    [InlineData("""{ "name": "decon", "type": "decontaminate", "column": "text" }""", "$.steps[1].eval_file")]
    [InlineData("""{ "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/missing.jsonl" }""", "$.steps[1].eval_file")]
    [InlineData("""{ "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/texts.csv" }""", "$.steps[1].eval_file")]
    [InlineData("""{ "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/texts.jsonl", "mode": "mark" }""", "$.steps[1].mode")]
    [InlineData("""{ "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/texts.jsonl", "flag_column": "x" }""", "$.steps[1].flag_column")]
    [InlineData("""{ "name": "decon", "type": "decontaminate", "columns": ["text", "n"], "eval_file": "data/texts.jsonl" }""", "$.steps[1].eval_column")]
    [InlineData("""{ "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/texts.jsonl", "ngram": 100 }""", "$.steps[1].ngram")]
    public void Bad_settings_are_located(string step, string path)
    {
        WriteTexts(["a text"]);
        _ws.Write("data/texts.csv", "text\nx\n");
        var e = Assert.Throws<PipelineDefinitionException>(() => Define(step));
        Assert.Equal(path, e.JsonPath);
    }

    [Fact]
    public async Task An_eval_line_without_the_column_fails_the_run_naming_file_and_line()
    {
        WriteTexts(["some text to check"]);
        _ws.Write("data/eval.jsonl", "{\"question\": \"fine\"}\n{\"answer\": \"no question here\"}\n");
        var definition = Define("""{ "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/eval.jsonl", "eval_column": "question" }""");
        var e = await Assert.ThrowsAnyAsync<Exception>(() => _ws.RunAsync(definition));
        Assert.Contains("eval.jsonl:2", e.Message);
        Assert.Contains("'question'", e.Message);
    }

    [Fact]
    public async Task A_parquet_eval_set_without_the_column_fails_the_run_naming_the_columns_it_has()
    {
        WriteTexts(["some text to check"]);
        await WriteEvalAsync("eval.parquet", ["a question"]);
        var definition = Define("""{ "name": "decon", "type": "decontaminate", "column": "text", "eval_file": "data/eval.parquet", "eval_column": "prompt" }""");
        var e = await Assert.ThrowsAnyAsync<Exception>(() => _ws.RunAsync(definition));
        Assert.Contains("eval.parquet: no column 'prompt'", e.Message);
        Assert.Contains("question, answer", e.Message);
    }

    /// <summary>
    /// Eval questions of 30 random words (plus two short ones of 4 words), and texts that copy 13 consecutive eval
    /// words into other words (contaminated; sometimes upper-cased with punctuation), copy only 12 (clean), contain a
    /// short eval question whole (contaminated), or share nothing.
    /// </summary>
    private static (List<string> Evals, List<string> Texts) Data(int seed)
    {
        var random = new Random(seed);
        var vocabulary = Enumerable.Range(0, 2000).Select(_ => new string(Enumerable.Range(0, random.Next(3, 8)).Select(_ => (char)('a' + random.Next(26))).ToArray())).ToArray();
        string[] Words(int count) => Enumerable.Range(0, count).Select(_ => vocabulary[random.Next(vocabulary.Length)]).ToArray();
        var evals = Enumerable.Range(0, 12).Select(_ => string.Join(' ', Words(30))).Append(string.Join(' ', Words(4))).Append(string.Join(' ', Words(4))).ToList();
        var texts = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            var eval = evals[random.Next(12)].Split(' ');
            var start = random.Next(0, 30 - 13);
            var copied = (i % 4) switch
            {
                0 => eval.Skip(start).Take(13).ToArray(),
                1 => eval.Skip(start).Take(12).ToArray(),
                2 => evals[12 + random.Next(2)].Split(' '),
                _ => [],
            };
            var span = i % 8 == 0 ? string.Join(", ", copied).ToUpperInvariant() : string.Join(' ', copied);
            texts.Add($"{string.Join(' ', Words(random.Next(0, 10)))} {span} {string.Join(' ', Words(random.Next(0, 10)))}".Trim());
        }

        return (evals, texts);
    }

    internal static bool Contaminated(string text, IReadOnlyList<string> evals, int n)
    {
        var words = Split(text);
        var joined = " " + string.Join(' ', words) + " ";
        foreach (var eval in evals.Select(Split))
        {
            var grams = eval.Length < n ? [string.Join(' ', eval)] : Enumerable.Range(0, eval.Length - n + 1).Select(i => string.Join(' ', eval.Skip(i).Take(n)));
            if (grams.Any(g => joined.Contains(" " + g + " ", StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    private static string[] Split(string text) => NonWord().Split(text.ToLowerInvariant()).Where(w => w.Length > 0).ToArray();

    [GeneratedRegex(@"[^\p{L}\p{N}]+")]
    private static partial Regex NonWord();

    private async Task WriteEvalAsync(string file, IReadOnlyList<string> evals)
    {
        var path = Path.Combine(_ws.Root, "data", file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (file.EndsWith(".jsonl", StringComparison.Ordinal))
        {
            File.WriteAllLines(path, evals.Select(e => JsonSerializer.Serialize(new { question = e, answer = "x" })));
            return;
        }

        var schema = new ParquetSchema(new DataField<string>("question", true), new DataField<string>("answer", true));
        var rows = evals.Select(e => (IDictionary<string, object?>)new Dictionary<string, object?> { ["question"] = e, ["answer"] = "x" }).ToList();
        await using var stream = File.Create(path);
        await ParquetSerializer.SerializeUntypedAsync(rows!, schema, stream);
    }

    private void WriteTexts(IReadOnlyList<string> texts) =>
        _ws.Write("data/texts.jsonl", string.Concat(texts.Select((t, i) => JsonSerializer.Serialize(new { text = t, n = i }) + "\n")));

    private PipelineDefinition Define(string step) => _ws.Define($$"""
        { "name": "t", "steps": [
          { "name": "load", "type": "load_jsonl", "path": "data/texts.jsonl" },
          {{step}},
          { "name": "out", "type": "write_jsonl", "path": "out.jsonl" } ] }
        """);

    private async Task<List<JsonElement>> RunAsync(string step)
    {
        await _ws.RunAsync(Define(step));
        return TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.jsonl"));
    }
}

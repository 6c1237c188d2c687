using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Distil.Engine;
using Distil.Judge;
using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Seeding;
using Distil.Steps;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Bench;

/// <summary>
/// distil-bench judge [--rows N] [--max-new-tokens N] [--models DIR]
///   1. judge throughput with the engine's prefix cache on versus off (every judge prompt starts with the same rubric);
///   2. the seed pipeline end to end (tokens/s) versus the same model calls made directly on the engine.
/// Runs on tiny random-weight models built on first use (cached in DIR); both sides of each ratio run here, now.
/// </summary>
internal static class JudgeBench
{
    public static async Task RunAsync(string[] args)
    {
        var rows = IntOption(args, "--rows", 48);
        var maxNewTokens = IntOption(args, "--max-new-tokens", 32);
        var modelRoot = StringOption(args, "--models") ?? Path.Combine(Path.GetTempPath(), "distil-bench-models");
        var models = new[] { "tiny-a", "tiny-b", "tiny-judge" }.Select(m => Path.Combine(modelRoot, m)).ToArray();
        for (var i = 0; i < models.Length; i++)
        {
            await ModelFolderBuilder.EnsureBuiltAsync(models[i], "tiny", (ulong)(i + 1), default);
        }

        var prompts = LoadPrompts(rows);
        Console.WriteLine($"judge benchmark: {prompts.Count} prompts, max_new_tokens {maxNewTokens}, {Environment.ProcessorCount} cores, tiny models in {modelRoot}");
        await PrefixReuseAsync(models[2], prompts);
        await PipelineVersusEngineAsync(models, prompts, maxNewTokens);
    }

    private static async Task PrefixReuseAsync(string judgeFolder, IReadOnlyList<string> prompts)
    {
        var rows = prompts.Select((p, i) => new Row(i, [
            new("instruction", p),
            new("generations", new List<object?> { $"A first answer to: {p}", $"A second, different answer to: {p} It adds a little more detail." }),
        ])).ToList();
        var results = new List<(string Label, double Seconds, long Prefill, long Reused, long Output)>();
        foreach (var (label, cacheBytes) in new[] { ("prefix cache off", 0L), ("prefix cache on", 256L << 20) })
        {
            using var judge = LocalModel.Load(judgeFolder, new LocalModelOptions { ChatTemplate = "llama3", PrefixCacheBytes = cacheBytes });
            var step = (IBatchStep)Create("""{"name": "judge", "type": "ultrafeedback", "model": "judge", "rationale_max_length": 24, "generation": {"seed": 1}}""");
            var context = new BenchContext(judge);
            await step.ProcessAsync(rows.Take(2).Select(r => r.Clone()).ToList(), context, default); // warm-up: sessions, allocations
            var before = (judge.Statistics.PrefillTokens, judge.Statistics.ReusedPrefixTokens, judge.Statistics.GeneratedTokens);
            var clock = Stopwatch.StartNew();
            await step.ProcessAsync(rows.Select(r => r.Clone()).ToList(), context, default);
            clock.Stop();
            results.Add((label, clock.Elapsed.TotalSeconds,
                judge.Statistics.PrefillTokens - before.PrefillTokens,
                judge.Statistics.ReusedPrefixTokens - before.ReusedPrefixTokens,
                judge.Statistics.GeneratedTokens - before.GeneratedTokens));
            if (context.Errors > 0)
            {
                Console.WriteLine($"  ({label}: {context.Errors} rows had unusable judge answers)");
            }
        }

        Console.WriteLine("\n1. judge, one call per row rating 2 responses (UltraFeedback overall-rating):");
        foreach (var r in results)
        {
            Console.WriteLine($"  {r.Label,-17} {rows.Count / r.Seconds,8:F2} rows/s  {r.Seconds,7:F2} s  prefill {r.Prefill,7} tok  reused {r.Reused,7} tok  generated {r.Output,6} tok");
        }

        Console.WriteLine($"  speed-up from prefix reuse: {results[0].Seconds / results[1].Seconds:F2}x");
    }

    private static async Task PipelineVersusEngineAsync(string[] models, IReadOnlyList<string> prompts, int maxNewTokens)
    {
        var folder = Path.Combine(Path.GetTempPath(), "distil-bench-judge-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            var data = Path.Combine(folder, "prompts.jsonl");
            await File.WriteAllLinesAsync(data, prompts.Select(p => JsonSerializer.Serialize(new { instruction = p })));
            var definitionPath = Path.Combine(folder, "bench.json");
            await File.WriteAllTextAsync(definitionPath, PipelineJson(models, data, maxNewTokens));
            var definition = PipelineDefinition.Load(definitionPath, BuiltInSteps.CreateRegistry());

            var clock = Stopwatch.StartNew();
            var manifest = await new PipelineRunner().RunAsync(definition, new RunOptions
            {
                RunsRoot = Path.Combine(folder, "runs"),
                OutputDirectory = Path.Combine(folder, "out"),
                Models = new ModelCatalog(),
                CacheBatches = false,
                LoggerFactory = NullLoggerFactory.Instance,
            }, default);
            var pipelineSeconds = clock.Elapsed.TotalSeconds;
            var pipelineTokens = manifest.Steps.Sum(s => s.OutputTokens);

            clock.Restart();
            var engineTokens = await EngineAloneAsync(models, prompts, maxNewTokens);
            var engineSeconds = clock.Elapsed.TotalSeconds;

            Console.WriteLine("\n2. seed pipeline (2 generators concurrently, combine, judge, pairs, Parquet, card) vs the same calls on the engine alone:");
            Console.WriteLine($"  pipeline      {pipelineTokens / pipelineSeconds,8:F1} generated tok/s  {pipelineSeconds,7:F2} s  {pipelineTokens,7} tok  status {manifest.Status}");
            Console.WriteLine($"  engine alone  {engineTokens / engineSeconds,8:F1} generated tok/s  {engineSeconds,7:F2} s  {engineTokens,7} tok");
            Console.WriteLine($"  pipeline / engine throughput: {pipelineTokens / pipelineSeconds / (engineTokens / engineSeconds):F2}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The pipeline's model work done directly: both generators at once, then the judge over their answers.</summary>
    private static async Task<long> EngineAloneAsync(string[] models, IReadOnlyList<string> prompts, int maxNewTokens)
    {
        using var a = LocalModel.Load(models[0], new LocalModelOptions { ChatTemplate = "llama3", Threads = 1 });
        using var b = LocalModel.Load(models[1], new LocalModelOptions { ChatTemplate = "llama3", Threads = 1 });
        using var judge = LocalModel.Load(models[2], new LocalModelOptions { ChatTemplate = "llama3", Threads = 1 });
        IReadOnlyList<BatchChatRequest> Generation(long seed) => prompts.Select((p, i) => new BatchChatRequest(
            [new ChatMessage(ChatRole.User, p)],
            new ChatOptions { MaxOutputTokens = maxNewTokens, Temperature = 0.7f, TopP = 0.95f, Seed = StableSeed.Derive(seed, i, StableSeed.Generation) })).ToList();
        var generated = await Task.WhenAll(a.GetResponsesAsync(Generation(11)), b.GetResponsesAsync(Generation(12)));
        var aspect = UltraFeedbackAspect.OverallRating;
        var judgeRequests = prompts.Select((p, i) => new BatchChatRequest(
            JudgePrompt.Messages(aspect, JudgeOutputStyle.Json, p, [generated[0][i].Response?.Text ?? string.Empty, generated[1][i].Response?.Text ?? string.Empty]),
            new ChatOptions
            {
                ResponseFormat = ChatResponseFormat.ForJsonSchema(JudgeSchema.For(aspect, 2, 48), JudgeSchema.Name),
                MaxOutputTokens = JudgeSchema.MaxOutputTokens(aspect, 2, 48),
                Temperature = 0.7f,
                Seed = StableSeed.Derive(13, i, StableSeed.Generation),
            })).ToList();
        var judged = await judge.GetResponsesAsync(judgeRequests);
        return generated.SelectMany(g => g).Concat(judged).Sum(r => r.Response?.Usage?.OutputTokenCount ?? 0);
    }

    private static string PipelineJson(string[] models, string data, int maxNewTokens)
    {
        string Model(string path) => $$"""{ "type": "local", "path": {{JsonSerializer.Serialize(path)}}, "chat_template": "llama3", "threads": 1 }""";
        return $$"""
            {
              "name": "judge-bench",
              "models": { "gen-a": {{Model(models[0])}}, "gen-b": {{Model(models[1])}}, "judge": {{Model(models[2])}} },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": {{JsonSerializer.Serialize(data)}} },
                { "name": "gen_a", "type": "text_generation", "after": ["load"], "model": "gen-a", "input_batch_size": 16, "max_parallelism": 2,
                  "generation": { "max_new_tokens": {{maxNewTokens}}, "temperature": 0.7, "top_p": 0.95, "seed": 11 } },
                { "name": "gen_b", "type": "text_generation", "after": ["load"], "model": "gen-b", "input_batch_size": 16, "max_parallelism": 2,
                  "generation": { "max_new_tokens": {{maxNewTokens}}, "temperature": 0.7, "top_p": 0.95, "seed": 12 } },
                { "name": "combine", "type": "combine_columns", "after": ["gen_a", "gen_b"], "columns": ["generation", "model_name"] },
                { "name": "judge", "type": "ultrafeedback", "after": ["combine"], "model": "judge", "input_batch_size": 16, "max_parallelism": 2,
                  "rationale_max_length": 48, "generation": { "temperature": 0.7, "seed": 13 } },
                { "name": "pairs", "type": "preference_pairs", "after": ["judge"] },
                { "name": "write", "type": "write_parquet", "after": ["pairs"], "path": "data.parquet" },
                { "name": "card", "type": "dataset_card", "after": ["pairs"], "data_files": ["data.parquet"] }
              ]
            }
            """;
    }

    private static IStep Create(string json)
    {
        var element = JsonDocument.Parse(json).RootElement.Clone();
        BuiltInSteps.CreateRegistry().TryGet(element.GetProperty("type").GetString()!, out var type);
        return type.Create(new StepParameters(element, "$.steps[0]", null, _ => null));
    }

    private static IReadOnlyList<string> LoadPrompts(int count)
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var file = Path.Combine(dir.FullName, "pipelines", "data", "prompts-mini.jsonl");
            if (File.Exists(file))
            {
                var prompts = File.ReadLines(file).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("instruction").GetString()!).ToList();
                return Enumerable.Range(0, count).Select(i => prompts[i % prompts.Count]).ToList();
            }
        }

        return Enumerable.Range(0, count).Select(i => $"Write a short note about topic number {i}.").ToList();
    }

    private static int IntOption(string[] args, string name, int fallback) =>
        StringOption(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    private static string? StringOption(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>The step context of the judge benchmark: one model, errors counted.</summary>
    private sealed class BenchContext(IChatClient judge) : IStepContext
    {
        public int Errors { get; private set; }

        public string StepName => "judge";

        public ILogger Logger => NullLogger.Instance;

        public string RunDirectory => Path.GetTempPath();

        public IChatClient GetModel(string modelName) => judge;

        public void RecordRowError(Row row, string message)
        {
            row[Row.ErrorColumn] = message;
            Errors++;
        }

        public void CountDropped(string reason, long count = 1)
        {
        }

        public void AddTokens(long inputTokens, long outputTokens)
        {
        }
    }
}

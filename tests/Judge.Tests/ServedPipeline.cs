using System.Text;

namespace Distil.Judge.Tests;

/// <summary>
/// The seed pipeline's shape (two generators, an UltraFeedback judge, best-vs-worst pairs, Parquet and a card) with
/// all three models served by one loopback OpenAI-compatible server, each with its own price.
/// </summary>
internal static class ServedPipeline
{
    public static readonly IReadOnlyDictionary<string, (decimal Input, decimal Output)> Prices = new Dictionary<string, (decimal, decimal)>
    {
        ["gen-a"] = (0.15m, 0.6m),
        ["gen-b"] = (1.1m, 4.4m),
        ["judge"] = (2.5m, 10m),
    };

    /// <summary>The <c>batch_discount</c> of every model's price.</summary>
    public const decimal BatchDiscount = 0.5m;

    /// <summary>A server whose judge answers are well-formed ratings that depend only on the judge prompt.</summary>
    public static LoopbackOpenAIServer Server(int failFirst = 0, int dropEvery = 0, Func<int, string?>? systemFingerprint = null) => new()
    {
        BaseLatency = TimeSpan.FromMilliseconds(2),
        FailFirst = failFirst,
        DropEvery = dropEvery,
        Answer = JudgeAnswer,
        SystemFingerprint = systemFingerprint,
    };

    /// <summary>
    /// The same answers behind every fault a served model shows: 500s first, 429 with <c>Retry-After: 1</c> beyond three
    /// requests in flight, latency that grows with concurrency (queueing) and every 11th connection dropped mid-answer.
    /// </summary>
    public static LoopbackOpenAIServer FaultyServer() => new()
    {
        BaseLatency = TimeSpan.FromMilliseconds(2),
        LatencyPerInFlight = TimeSpan.FromMilliseconds(3),
        FailFirst = 5,
        FailStatus = 500,
        Capacity = 3,
        RetryAfter = "1",
        DropEvery = 11,
        Answer = JudgeAnswer,
    };

    /// <summary>Writes <paramref name="rows"/> prompts and the definition into <paramref name="folder"/>; returns the definition's path.</summary>
    /// <param name="modelSettings">Added to every model entry, e.g. <c>"batch": true, </c>.</param>
    public static string Write(string folder, LoopbackOpenAIServer server, int rows, string topLevel = "", string modelSettings = "")
    {
        Directory.CreateDirectory(folder);
        var prompts = new StringBuilder();
        for (var i = 0; i < rows; i++)
        {
            prompts.Append("{\"instruction\": \"Question number ").Append(i).Append(": what follows ").Append(i * 7 % 13).Append("?\", \"topic\": \"t\"}\n");
        }

        File.WriteAllText(Path.Combine(folder, "prompts.jsonl"), prompts.ToString());
        string Model(string name) =>
            $$"""
            "{{name}}": { "type": "openai", "endpoint": "{{server.Endpoint}}", "model": "{{name}}-served", "max_concurrency": 4, "max_retries": 8, {{modelSettings}}
                          "price": { "input_per_mtok": {{Prices[name].Input}}, "output_per_mtok": {{Prices[name].Output}}, "batch_discount": {{BatchDiscount}} } }
            """;
        var definition = $$"""
            {
              "name": "served-dpo", {{topLevel}}
              "models": { {{Model("gen-a")}}, {{Model("gen-b")}}, {{Model("judge")}} },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                { "name": "gen_a", "type": "text_generation", "after": ["load"], "model": "gen-a", "input_batch_size": 4, "generation": { "max_new_tokens": 8 } },
                { "name": "gen_b", "type": "text_generation", "after": ["load"], "model": "gen-b", "input_batch_size": 4, "generation": { "max_new_tokens": 8 } },
                { "name": "combine", "type": "combine_columns", "after": ["gen_a", "gen_b"],
                  "columns": ["generation", "model_name", "generation_tokens"], "output_columns": ["generations", "model_names", "generation_tokens"] },
                { "name": "judge", "type": "ultrafeedback", "after": ["combine"], "model": "judge", "aspect": "overall-rating", "input_batch_size": 4 },
                { "name": "pairs", "type": "preference_pairs", "after": ["judge"], "strategy": "best_vs_worst", "min_margin": 1 },
                { "name": "write", "type": "write_parquet", "after": ["pairs"], "path": "data.parquet",
                  "columns": ["prompt", "chosen", "rejected", "chosen_rating", "rejected_rating", "chosen_model", "rejected_model"] },
                { "name": "card", "type": "dataset_card", "after": ["pairs"], "data_files": ["data.parquet"] }
              ]
            }
            """;
        var path = Path.Combine(folder, "served-dpo.json");
        File.WriteAllText(path, definition);
        return path;
    }

    /// <summary>Ratings for a judge prompt ("## Responses" in it) from a stable digest of the prompt; null for generation prompts.</summary>
    private static string? JudgeAnswer(string prompt)
    {
        if (!prompt.Contains("## Responses", StringComparison.Ordinal))
        {
            return null;
        }

        var digest = 2166136261u;
        foreach (var c in prompt)
        {
            digest = (digest ^ c) * 16777619u;
        }

        return $$"""{"ratings": [{{1 + (digest % 5)}}, {{1 + (digest / 5 % 5)}}], "rationales": ["fine", "fine"]}""";
    }
}

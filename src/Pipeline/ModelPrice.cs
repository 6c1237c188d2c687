using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// A model's <c>price</c>: US dollars per million input and output tokens, and the discount its provider gives
/// requests sent through a batch API (a fraction: 0.5 is half price). <see cref="Batch"/>: the model sends every
/// request through a batch API (<c>"batch": true</c> on its entry), so every token it reports costs the discounted price.
/// </summary>
public sealed record ModelPrice(decimal InputPerMTok, decimal OutputPerMTok, decimal BatchDiscount = 0)
{
    public bool Batch { get; init; }

    private static readonly HashSet<string> Keys = ["input_per_mtok", "output_per_mtok", "batch_discount"];

    /// <summary>What <paramref name="inputTokens"/> in and <paramref name="outputTokens"/> out cost, exactly (decimal arithmetic).</summary>
    public decimal Cost(long inputTokens, long outputTokens, bool batch = false)
    {
        var full = ((inputTokens * InputPerMTok) + (outputTokens * OutputPerMTok)) / 1_000_000m;
        return batch || Batch ? full * (1 - BatchDiscount) : full;
    }

    /// <summary>The <c>price</c> of a <c>models</c> entry (null when it has none); each bad field is recorded in <paramref name="problems"/>.</summary>
    public static ModelPrice? Read(string modelName, StepParameters model, DefinitionProblems problems)
    {
        if (model.Get("price") is not { } price)
        {
            return null;
        }

        if (price.ValueKind != JsonValueKind.Object)
        {
            problems.Add(model.Error("price", $"model '{modelName}': \"price\" must be an object like {{\"input_per_mtok\": 0.15, \"output_per_mtok\": 0.6}} (US dollars per million tokens)"));
            return null;
        }

        foreach (var property in price.EnumerateObject().Where(p => !Keys.Contains(p.Name)))
        {
            problems.Add(model.Error($"price.{property.Name}", $"model '{modelName}': unknown price key {PipelineDefinitionException.Quote(property.Name)}; accepted: {string.Join(", ", Keys)}"));
        }

        var input = Amount(modelName, model, price, "input_per_mtok", required: true, max: 1_000_000m, problems);
        var output = Amount(modelName, model, price, "output_per_mtok", required: true, max: 1_000_000m, problems);
        var discount = Amount(modelName, model, price, "batch_discount", required: false, max: 1m, problems);
        // A model in batch mode pays the batch price for all its tokens: resubmitted requests go out as batches too.
        var batch = model.Get("batch") is { ValueKind: JsonValueKind.True };
        return input is { } i && output is { } o ? new ModelPrice(i, o, discount ?? 0) { Batch = batch } : null;
    }

    private static decimal? Amount(string modelName, StepParameters model, JsonElement price, string key, bool required, decimal max, DefinitionProblems problems)
    {
        if (!price.TryGetProperty(key, out var value))
        {
            if (required)
            {
                problems.Add(model.Error("price", $"model '{modelName}': \"price\" needs \"{key}\" (US dollars per million tokens)"));
            }

            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var amount) && amount >= 0 && amount <= max)
        {
            return amount;
        }

        problems.Add(model.Error($"price.{key}", $"model '{modelName}': \"{key}\" must be a number from 0 to {max}, not {value.GetRawText()}"));
        return null;
    }
}

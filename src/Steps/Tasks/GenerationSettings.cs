using Distil.Engine.Text;
using Distil.Seeding;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// The <c>generation</c> object of a task step: sampling knobs passed to the model as <see cref="ChatOptions"/>.
/// Unknown keys are rejected with the file and line (snake_case, see SnakeCaseJson).
/// </summary>
public sealed record GenerationSettings
{
    public int? MaxNewTokens { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public int? TopK { get; init; }

    public double? MinP { get; init; }

    public double? RepetitionPenalty { get; init; }

    /// <summary>The run seed; each request's seed is derived from it and the row id, so shards and resumes reproduce.</summary>
    public long Seed { get; init; }

    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>Reads and checks the step's <c>generation</c> parameter.</summary>
    public static GenerationSettings From(Distil.Pipeline.StepParameters parameters, string name = "generation")
    {
        var settings = parameters.Get<GenerationSettings>(name) ?? new GenerationSettings();
        if (settings.MaxNewTokens is <= 0)
        {
            throw parameters.Error($"{name}.max_new_tokens", "'max_new_tokens' must be at least 1");
        }

        CheckRange(parameters, name, SamplingOptions.TemperatureKey, settings.Temperature);
        CheckRange(parameters, name, SamplingOptions.TopPKey, settings.TopP);
        CheckRange(parameters, name, SamplingOptions.MinPKey, settings.MinP);
        CheckRange(parameters, name, SamplingOptions.TopKKey, settings.TopK);
        CheckRange(parameters, name, SamplingOptions.RepetitionPenaltyKey, settings.RepetitionPenalty);
        return settings;
    }

    /// <summary>The engine's range for the knob, reported at the knob's place in the definition.</summary>
    private static void CheckRange(Distil.Pipeline.StepParameters parameters, string name, string key, double? value)
    {
        if (value is { } set && SamplingOptions.RangeViolation(key, set) is { } rule)
        {
            throw parameters.Error($"{name}.{key}", $"'{key}' {rule}");
        }
    }

    /// <summary>Options for one request: generation <paramref name="index"/> of row <paramref name="rowId"/>.</summary>
    public ChatOptions ToChatOptions(long rowId, int index)
    {
        var options = new ChatOptions
        {
            MaxOutputTokens = MaxNewTokens,
            Temperature = Temperature is null ? null : (float)Temperature.Value,
            TopP = TopP is null ? null : (float)TopP.Value,
            TopK = TopK,
            Seed = StableSeed.Derive(Seed, rowId, StableSeed.Generation, index),
        };
        if (Stop is { Count: > 0 })
        {
            options.StopSequences = [.. Stop];
        }

        if (MinP is not null || RepetitionPenalty is not null)
        {
            options.AdditionalProperties = [];
            if (MinP is { } minP)
            {
                options.AdditionalProperties[SamplingOptions.MinPKey] = minP;
            }

            if (RepetitionPenalty is { } penalty)
            {
                options.AdditionalProperties[SamplingOptions.RepetitionPenaltyKey] = penalty;
            }
        }

        return options;
    }
}

using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>
/// How the next token is drawn. <see cref="Temperature"/> 0 is greedy; <see cref="TopK"/> 0, <see cref="TopP"/> 1,
/// <see cref="MinP"/> 0 and <see cref="RepetitionPenalty"/> 1 switch their filter off.
/// </summary>
public sealed record SamplingOptions(float Temperature = 1, int TopK = 0, float TopP = 1, float MinP = 0, float RepetitionPenalty = 1)
{
    public const string TemperatureKey = "temperature";
    public const string TopKKey = "top_k";
    public const string TopPKey = "top_p";
    public const string MinPKey = "min_p";
    public const string RepetitionPenaltyKey = "repetition_penalty";

    public static SamplingOptions Default { get; } = new();

    /// <summary>Whether every token is drawn by argmax.</summary>
    public bool IsGreedy => Temperature <= 0;

    /// <summary>
    /// Reads <see cref="ChatOptions.Temperature"/>, <see cref="ChatOptions.TopP"/>, <see cref="ChatOptions.TopK"/> and the
    /// additional properties <c>min_p</c> and <c>repetition_penalty</c> (numbers, numeric strings or JSON numbers).
    /// </summary>
    /// <exception cref="ArgumentException">A value outside its range, naming the option.</exception>
    public static SamplingOptions From(ChatOptions? options)
    {
        if (options is null)
        {
            return Default;
        }
        var result = new SamplingOptions(
            options.Temperature ?? 1,
            options.TopK ?? 0,
            options.TopP ?? 1,
            Additional(options, MinPKey) ?? 0,
            Additional(options, RepetitionPenaltyKey) ?? 1);
        result.Validate();
        return result;
    }

    /// <summary>Checks every knob is in range.</summary>
    /// <exception cref="ArgumentException">Naming the first option out of range.</exception>
    public void Validate()
    {
        Check(TemperatureKey, Temperature);
        Check(TopKKey, TopK);
        Check(TopPKey, TopP);
        Check(MinPKey, MinP);
        Check(RepetitionPenaltyKey, RepetitionPenalty);
    }

    /// <summary>
    /// The range rule <paramref name="value"/> breaks for the option <paramref name="key"/> (one of the keys above),
    /// or null when it is in range. The one statement of the ranges: pipeline definitions are checked against it
    /// too, so a definition that validates is one the engine accepts.
    /// </summary>
    public static string? RangeViolation(string key, double value) => key switch
    {
        TemperatureKey => double.IsFinite(value) && value >= 0 ? null : "must be ≥ 0",
        TopKKey => value >= 0 ? null : "must be ≥ 0",
        TopPKey => value > 0 && value <= 1 ? null : "must be in (0, 1]",
        MinPKey => value >= 0 && value <= 1 ? null : "must be in [0, 1]",
        RepetitionPenaltyKey => double.IsFinite(value) && value > 0 ? null : "must be > 0",
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, "not a sampling option"),
    };

    private static void Check(string key, double value)
    {
        if (RangeViolation(key, value) is { } rule)
        {
            throw new ArgumentException($"sampling option {key} = {Convert.ToString(value, CultureInfo.InvariantCulture)} {rule}", key);
        }
    }

    private static float? Additional(ChatOptions options, string key)
    {
        if (options.AdditionalProperties is null || !options.AdditionalProperties.TryGetValue(key, out var value) || value is null)
        {
            return null;
        }
        return value switch
        {
            float f => f,
            double d => (float)d,
            decimal m => (float)m,
            int i => i,
            long l => l,
            string s when float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
            JsonElement { ValueKind: JsonValueKind.Number } e => e.GetSingle(),
            _ => throw new ArgumentException($"sampling option {key} must be a number, got {value}", key),
        };
    }
}

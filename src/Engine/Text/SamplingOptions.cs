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
        Check(float.IsFinite(Temperature) && Temperature >= 0, "temperature", Temperature, "must be ≥ 0");
        Check(TopK >= 0, "top_k", TopK, "must be ≥ 0");
        Check(TopP > 0 && TopP <= 1, "top_p", TopP, "must be in (0, 1]");
        Check(MinP >= 0 && MinP <= 1, MinPKey, MinP, "must be in [0, 1]");
        Check(float.IsFinite(RepetitionPenalty) && RepetitionPenalty > 0, RepetitionPenaltyKey, RepetitionPenalty, "must be > 0");
    }

    private static void Check(bool ok, string name, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"sampling option {name} = {Convert.ToString(value, CultureInfo.InvariantCulture)} {rule}", name);
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

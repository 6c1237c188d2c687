using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distil.Judge;

/// <summary>
/// The JSON schema a judge's answer must satisfy for a row with N responses: exactly N integer ratings in 1..5,
/// exactly N rationales of bounded length (and N type lists where the aspect has types). Given as
/// <c>ChatOptions.ResponseFormat</c>, the local engine masks every token that would break it, so the answer
/// always parses; remote servers with structured output (vLLM, OpenAI) enforce it on their side.
/// </summary>
public static class JudgeSchema
{
    public const string Name = "ultrafeedback_ratings";

    public static JsonElement For(UltraFeedbackAspect aspect, int responses, int rationaleMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(responses);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rationaleMaxLength);
        var properties = new JsonObject
        {
            ["ratings"] = ExactArray(responses, new JsonObject
            {
                ["type"] = "integer",
                ["minimum"] = UltraFeedbackAspect.MinRating,
                ["maximum"] = UltraFeedbackAspect.MaxRating,
            }),
            ["rationales"] = ExactArray(responses, new JsonObject
            {
                ["type"] = "string",
                ["minLength"] = 1,
                ["maxLength"] = rationaleMaxLength,
            }),
        };
        var required = new JsonArray("ratings", "rationales");
        if (aspect.HasTypes)
        {
            properties["types"] = ExactArray(responses, new JsonObject
            {
                ["type"] = "array",
                ["maxItems"] = aspect.Types!.Count,
                ["items"] = new JsonObject { ["type"] = "integer", ["minimum"] = 1, ["maximum"] = aspect.Types.Count },
            });
            required.Add("types");
        }

        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["required"] = required,
            ["additionalProperties"] = false,
        };
        return JsonSerializer.SerializeToElement(schema);
    }

    /// <summary>
    /// A token budget that a schema-following answer cannot exceed, so a constrained answer is never cut off:
    /// every generated token adds at least one character, each rationale is at most <paramref name="rationaleMaxLength"/>
    /// characters (escapes counted at their widest), plus the structure around them.
    /// </summary>
    public static int MaxOutputTokens(UltraFeedbackAspect aspect, int responses, int rationaleMaxLength)
    {
        var perResponse = 8 + rationaleMaxLength * 2 + (aspect.HasTypes ? 16 : 0);
        return 64 + responses * perResponse;
    }

    private static JsonObject ExactArray(int count, JsonObject items) => new()
    {
        ["type"] = "array",
        ["items"] = items,
        ["minItems"] = count,
        ["maxItems"] = count,
    };
}

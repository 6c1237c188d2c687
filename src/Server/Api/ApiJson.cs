using System.Text.Json;
using System.Text.Json.Serialization;

namespace Distil.Server.Api;

/// <summary>The API's JSON: snake_case names, enums as strings, like the pipeline files.</summary>
internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };
}

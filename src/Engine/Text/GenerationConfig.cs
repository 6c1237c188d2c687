using System.Text.Json;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Text;

/// <summary>The end-of-sequence ids a model folder's <c>generation_config.json</c> lists (a number or an array).</summary>
internal static class GenerationConfig
{
    public static IReadOnlyList<int> EosIds(string modelDirectory)
    {
        var file = Path.Combine(modelDirectory, "generation_config.json");
        if (!File.Exists(file))
        {
            return [];
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(file));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("eos_token_id", out var eos))
            {
                return [];
            }
            return eos.ValueKind switch
            {
                JsonValueKind.Number => [eos.GetInt32()],
                JsonValueKind.Array => eos.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Number).Select(e => e.GetInt32()).ToArray(),
                _ => [],
            };
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new TokenizerFormatException(file, $"unreadable eos_token_id: {e.Message}", e);
        }
    }
}

using System.Text.Json;

namespace Distil.Engine.Text;

/// <summary>The built-in chat templates and the choice of one for a model folder.</summary>
public static class ChatTemplates
{
    public const string Llama3 = "llama3";
    public const string ChatML = "chatml";
    public const string Falcon = "falcon";

    private static readonly Dictionary<string, IChatTemplate> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        [Llama3] = new Llama3ChatTemplate(),
        [ChatML] = new ChatMLTemplate(),
        [Falcon] = new FalconChatTemplate(),
    };

    /// <summary>The names <see cref="Get"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = [Llama3, ChatML, Falcon];

    /// <summary>The template called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static IChatTemplate Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ByName.TryGetValue(name.Trim(), out var template)
            ? template
            : throw new ArgumentException($"unknown chat template '{name}'; known templates: {string.Join(", ", Names)}", nameof(name));
    }

    /// <summary>
    /// The template for a model folder: <paramref name="overrideName"/> when given, else the one
    /// <c>tokenizer_config.json</c> names (<c>distil_chat_template</c>) or whose Jinja <c>chat_template</c> it
    /// recognises, else the one <c>config.json</c>'s <c>model_type</c> implies.
    /// </summary>
    /// <exception cref="ArgumentException">The override names no template, or nothing in the folder identifies one.</exception>
    public static IChatTemplate ForModel(string modelDirectory, string? overrideName)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!string.IsNullOrWhiteSpace(overrideName))
        {
            return Get(overrideName);
        }
        var config = TokenizerConfig.Read(modelDirectory);
        if (config.DistilChatTemplate is { } named)
        {
            return Get(named);
        }
        if (FromJinja(config.ChatTemplate) is { } hinted)
        {
            return Get(hinted);
        }
        if (FromModelType(ModelType(modelDirectory)) is { } typed)
        {
            return Get(typed);
        }
        throw new ArgumentException(
            $"{modelDirectory}: cannot tell which chat template the model uses (no recognisable chat_template in {TokenizerConfig.FileName}, " +
            $"no known model_type in config.json); set chat_template to one of: {string.Join(", ", Names)}", nameof(modelDirectory));
    }

    private static string? FromJinja(string? jinja) =>
        jinja is null ? null
        : jinja.Contains("<|start_header_id|>", StringComparison.Ordinal) ? Llama3
        : jinja.Contains("<|im_start|>", StringComparison.Ordinal) ? ChatML
        : jinja.Contains("Falcon:", StringComparison.Ordinal) ? Falcon
        : null;

    private static string? FromModelType(string? modelType) => modelType?.ToLowerInvariant() switch
    {
        "llama" => Llama3,
        "falcon" or "refinedweb" or "refinedwebmodel" => Falcon,
        "qwen2" or "qwen3" or "qwen2_moe" => ChatML,
        _ => null,
    };

    private static string? ModelType(string modelDirectory)
    {
        var file = Path.Combine(modelDirectory, "config.json");
        if (!File.Exists(file))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(file));
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String
                ? type.GetString()
                : null;
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{file}: invalid JSON at line {e.LineNumber + 1}: {e.Message}", nameof(modelDirectory), e);
        }
    }
}

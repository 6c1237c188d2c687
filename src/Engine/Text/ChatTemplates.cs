using System.Text.Json;
using Distil.Engine.Text.Tokenizers;

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

    /// <summary>The file a model folder may keep its Jinja template in, beside <c>tokenizer_config.json</c>.</summary>
    public const string TemplateFileName = "chat_template.jinja";

    /// <summary>
    /// The template for a model folder. <paramref name="overrideName"/>, when given, is a built-in name or a Jinja
    /// template file. Otherwise the model's own template: <c>chat_template.jinja</c>, else <c>tokenizer_config.json</c>'s
    /// <c>chat_template</c> (a string, or named templates: <c>default</c>, and <c>tool_use</c> when tools are offered).
    /// Only a folder without one falls back to a built-in: <c>distil_chat_template</c>, else <c>config.json</c>'s
    /// <c>model_type</c>. Jinja templates get the folder's bos/eos tokens and <paramref name="extraVariables"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The override names no template or file, or nothing in the folder identifies one.</exception>
    /// <exception cref="Jinja.JinjaTemplateException">The template does not parse (file, line, column, reason).</exception>
    public static IChatTemplate ForModel(string modelDirectory, string? overrideName, IReadOnlyDictionary<string, JsonElement>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        var config = TokenizerConfig.Read(modelDirectory);
        if (!string.IsNullOrWhiteSpace(overrideName))
        {
            if (ByName.ContainsKey(overrideName.Trim()))
            {
                return Get(overrideName);
            }
            var file = Path.GetFullPath(overrideName.Trim(), modelDirectory);
            if (!File.Exists(file))
            {
                throw new ArgumentException($"unknown chat template '{overrideName}': neither a built-in ({string.Join(", ", Names)}) nor an existing template file", nameof(overrideName));
            }
            return new JinjaChatTemplate(File.ReadAllText(file), file, config.BosToken, config.EosToken, extraVariables);
        }
        var beside = Path.Combine(modelDirectory, TemplateFileName);
        if (File.Exists(beside))
        {
            return new JinjaChatTemplate(File.ReadAllText(beside), beside, config.BosToken, config.EosToken, extraVariables);
        }
        if (config.ChatTemplates is { } named)
        {
            var source = $"{config.File} (chat_template)";
            var main = named.GetValueOrDefault("default")
                ?? throw new TokenizerFormatException(config.File!, $"chat_template lists templates named {string.Join(", ", named.Keys)} but none named \"default\"");
            return new JinjaChatTemplate(main, source, config.BosToken, config.EosToken, extraVariables, named.GetValueOrDefault("tool_use"));
        }
        if (config.DistilChatTemplate is { } builtIn)
        {
            return Get(builtIn);
        }
        if (FromModelType(ModelType(modelDirectory)) is { } typed)
        {
            return Get(typed);
        }
        throw new ArgumentException(
            $"{modelDirectory}: the model ships no chat template ({TemplateFileName}, or chat_template in {TokenizerConfig.FileName}) and config.json names " +
            $"no known model_type; set chat_template to a template file or one of: {string.Join(", ", Names)}", nameof(modelDirectory));
    }

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

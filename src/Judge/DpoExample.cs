using System.Security.Cryptography;
using System.Text;

namespace Distil.Judge;

/// <summary>The two shapes of TRL's DPO columns.</summary>
public enum DpoFormat
{
    /// <summary><c>prompt</c>, <c>chosen</c>, <c>rejected</c> are lists of <c>{role, content}</c> messages.</summary>
    Conversational,

    /// <summary><c>prompt</c>, <c>chosen</c>, <c>rejected</c> are plain strings.</summary>
    Standard,
}

/// <summary>
/// One DPO training example in Hugging Face TRL's column layout. Values are the plain types a Row holds
/// (strings, lists, string-keyed dictionaries), so they go to Parquet as nested lists of structs.
/// </summary>
public sealed record DpoExample(object Prompt, object Chosen, object Rejected, string PromptId)
{
    public static DpoExample Create(string? systemPrompt, string prompt, string chosen, string rejected, DpoFormat format)
    {
        var promptId = PromptIdOf(prompt);
        if (format == DpoFormat.Standard)
        {
            return new DpoExample(prompt, chosen, rejected, promptId);
        }

        var promptMessages = new List<object?>();
        if (!string.IsNullOrEmpty(systemPrompt))
        {
            promptMessages.Add(Message("system", systemPrompt));
        }

        promptMessages.Add(Message("user", prompt));
        return new DpoExample(
            promptMessages,
            new List<object?> { Message("assistant", chosen) },
            new List<object?> { Message("assistant", rejected) },
            promptId);
    }

    /// <summary>Lower-case hex SHA-256 of the prompt text (UTF-8), as Hugging Face preference datasets use.</summary>
    public static string PromptIdOf(string prompt) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(prompt)));

    private static IReadOnlyDictionary<string, object?> Message(string role, string content) =>
        new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = role, ["content"] = content };
}

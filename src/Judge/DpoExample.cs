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
    /// <summary>The columns of a pair as <c>preference_pairs</c> writes it: TRL's three, then the pair's metadata.</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["prompt", "chosen", "rejected", "prompt_id", "chosen_rating", "rejected_rating", "chosen_model", "rejected_model", "ratings", "judge_model", "chosen_tokens", "rejected_tokens"];

    public static DpoExample Create(string? systemPrompt, string prompt, string chosen, string rejected, DpoFormat format)
    {
        List<(string Role, string Content)> messages = string.IsNullOrEmpty(systemPrompt) ? [("user", prompt)] : [("system", systemPrompt), ("user", prompt)];
        return FromMessages(messages, chosen, rejected, format);
    }

    /// <summary>
    /// The example for the exact messages the models were sent. The standard format is one prompt string, which
    /// has no place for a system prompt or several turns: such prompts are refused rather than cut down, because
    /// a model trained on the shortened prompt would learn from answers to a prompt it never sees.
    /// </summary>
    /// <exception cref="InvalidDataException">Standard format with a system prompt or more than one user turn.</exception>
    public static DpoExample FromMessages(IReadOnlyList<(string Role, string Content)> promptMessages, string chosen, string rejected, DpoFormat format)
    {
        var user = promptMessages.LastOrDefault(m => m.Role == "user").Content ?? string.Empty;
        var promptId = PromptIdOf(promptMessages);
        if (format == DpoFormat.Standard)
        {
            if (promptMessages.Count != 1 || promptMessages[0].Role != "user")
            {
                var roles = string.Join(", ", promptMessages.Select(m => m.Role));
                throw new InvalidDataException(
                    $"format 'standard' writes the prompt as one string, which cannot hold the {roles} messages the models were sent " +
                    "(a system prompt would be dropped); use format 'conversational'");
            }

            return new DpoExample(user, chosen, rejected, promptId);
        }

        return new DpoExample(
            promptMessages.Select(m => (object?)Message(m.Role, m.Content)).ToList(),
            new List<object?> { Message("assistant", chosen) },
            new List<object?> { Message("assistant", rejected) },
            promptId);
    }

    /// <summary>
    /// TRL's conversational SFT column (<c>messages</c>): the prompt the models were sent followed by the chosen
    /// answer, so supervised fine-tuning sees exactly the exchange the DPO example prefers.
    /// </summary>
    public static IReadOnlyList<object?> SftMessages(IReadOnlyList<(string Role, string Content)> promptMessages, string chosen) =>
        [.. promptMessages.Select(m => (object?)Message(m.Role, m.Content)), Message("assistant", chosen)];

    /// <summary>
    /// The id of a prompt, without its system prompt (as Hugging Face preference datasets key it): for a single user
    /// turn the hash of its text; for a conversation the hash of every turn, each as its role, a newline and its
    /// content, separated by a NUL, so chats that end with the same words ("Thanks!") stay different prompts.
    /// </summary>
    public static string PromptIdOf(IReadOnlyList<(string Role, string Content)> promptMessages)
    {
        var turns = promptMessages.Where(m => m.Role != "system").ToList();
        return turns is [{ Role: "user" } only] ? PromptIdOf(only.Content) : PromptIdOf(string.Join('\0', turns.Select(m => m.Role + "\n" + m.Content)));
    }

    /// <summary>Lower-case hex SHA-256 of the prompt text (UTF-8), as Hugging Face preference datasets use.</summary>
    public static string PromptIdOf(string prompt) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(prompt)));

    private static IReadOnlyDictionary<string, object?> Message(string role, string content) =>
        new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = role, ["content"] = content };
}

using System.Globalization;
using Distil.Judge;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// A chat read from a row's <c>messages</c> column: the TRL/OpenAI shape, a list of <c>{role, content}</c> structs
/// (from JSONL objects, or Parquet/Hub lists of structs; other keys of a message are ignored). Roles are
/// <c>system</c> (first message only), <c>user</c> and <c>assistant</c>; every content is non-blank text; the last
/// message is a user turn, because what is generated or judged is the assistant's answer to it.
/// </summary>
public sealed class Conversation
{
    /// <summary>The column a conversation is read from (another column can be mapped to it with <c>input_mappings</c>).</summary>
    public const string Column = "messages";

    private static readonly string[] Roles = ["system", "user", "assistant"];

    private Conversation(IReadOnlyList<(string Role, string Content)> messages) => Messages = messages;

    /// <summary>Every message, in order.</summary>
    public IReadOnlyList<(string Role, string Content)> Messages { get; }

    /// <summary>Whether the conversation brings its own system prompt.</summary>
    public bool HasSystemPrompt => Messages[0].Role == "system";

    /// <summary>
    /// What a judge grades the responses against: the last user turn is the instruction, every earlier message
    /// (the system prompt included) is its context.
    /// </summary>
    public JudgeInstruction ForJudge => new(Messages[^1].Content, Messages.Take(Messages.Count - 1).ToList());

    /// <summary>The messages to send, with <paramref name="defaultSystemPrompt"/> first when the conversation has no system prompt of its own.</summary>
    public IReadOnlyList<ChatMessage> ToChat(string? defaultSystemPrompt)
    {
        var chat = new List<ChatMessage>(Messages.Count + 1);
        if (!HasSystemPrompt && !string.IsNullOrEmpty(defaultSystemPrompt))
        {
            chat.Add(new ChatMessage(ChatRole.System, defaultSystemPrompt));
        }

        chat.AddRange(Messages.Select(m => new ChatMessage(new ChatRole(m.Role), m.Content)));
        return chat;
    }

    /// <summary>Reads the conversation in <paramref name="column"/>; on failure <paramref name="problem"/> names the column and the field at fault.</summary>
    public static bool TryRead(Row row, string column, out Conversation conversation, out string problem)
    {
        conversation = null!;
        var value = row[column];
        if (value is not IReadOnlyList<object?> list)
        {
            problem = value is null
                ? $"the column '{column}' is missing or null"
                : $"'{column}' must be a list of {{role, content}} messages, not {Describe(value)}";
            return false;
        }

        if (list.Count == 0)
        {
            problem = $"'{column}' is an empty list; a conversation needs at least one user message";
            return false;
        }

        var messages = new List<(string Role, string Content)>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            var at = $"{column}[{i.ToString(CultureInfo.InvariantCulture)}]";
            if (list[i] is not IReadOnlyDictionary<string, object?> message)
            {
                problem = $"'{at}' must be a {{role, content}} object, not {Describe(list[i])}";
                return false;
            }

            if (message.GetValueOrDefault("role") is not string role)
            {
                problem = $"'{at}.role' is missing{(message.ContainsKey("role") ? " (null)" : string.Empty)}; give one of: {string.Join(", ", Roles)}";
                return false;
            }

            if (!Roles.Contains(role))
            {
                problem = $"'{at}.role' is '{role}', which is not a known role; give one of: {string.Join(", ", Roles)}";
                return false;
            }

            if (role == "system" && i > 0)
            {
                problem = $"'{at}.role' is 'system' after the first message; a system prompt may only open the conversation";
                return false;
            }

            if (message.GetValueOrDefault("content") is not string content)
            {
                problem = message.GetValueOrDefault("content") is { } other
                    ? $"'{at}.content' must be text, not {Describe(other)}"
                    : $"'{at}.content' is missing";
                return false;
            }

            if (string.IsNullOrWhiteSpace(content))
            {
                problem = $"'{at}.content' is empty";
                return false;
            }

            messages.Add((role, content));
        }

        if (messages[^1].Role != "user")
        {
            problem = $"'{column}' ends with a{(messages[^1].Role == "assistant" ? "n assistant" : " system")} message; the last message must be the user turn to answer";
            return false;
        }

        conversation = new Conversation(messages);
        problem = string.Empty;
        return true;
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        string => "a string",
        long or double => "a number",
        bool => "a boolean",
        IReadOnlyDictionary<string, object?> => "an object",
        IReadOnlyList<object?> => "a list",
        _ => value.GetType().Name,
    };
}

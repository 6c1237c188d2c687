using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>
/// Falcon-instruct's plain-text dialogue: one line per message, <c>System: </c>, <c>User: </c> or
/// <c>Falcon: </c> before the content, lines joined by a newline; the generation prompt is <c>\nFalcon:</c>.
/// </summary>
public sealed class FalconChatTemplate : IChatTemplate
{
    public string Name => ChatTemplates.Falcon;

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IList<AITool>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var lines = messages.Select(m => $"{Speaker(m.Role)}: {m.Text}");
        var text = string.Join('\n', lines);
        return addGenerationPrompt ? (text.Length == 0 ? "Falcon:" : text + "\nFalcon:") : text;
    }

    private static string Speaker(ChatRole role) =>
        role == ChatRole.System ? "System"
        : role == ChatRole.User ? "User"
        : role == ChatRole.Assistant ? "Falcon"
        : throw new NotSupportedException($"the falcon chat template has no '{role.Value}' role (system, user, assistant only)");
}

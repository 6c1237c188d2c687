using System.Text;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>
/// Llama 3 / 3.1: <c>&lt;|begin_of_text|&gt;</c>, then each message as
/// <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c> with the content trimmed;
/// tool results use the <c>ipython</c> role.
/// </summary>
public sealed class Llama3ChatTemplate : IChatTemplate
{
    public string Name => ChatTemplates.Llama3;

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IList<AITool>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = new StringBuilder("<|begin_of_text|>");
        foreach (var message in messages)
        {
            Header(text, RoleName(message.Role)).Append(message.Text.Trim()).Append("<|eot_id|>");
        }
        if (addGenerationPrompt)
        {
            Header(text, "assistant");
        }
        return text.ToString();
    }

    private static StringBuilder Header(StringBuilder text, string role) =>
        text.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n");

    private static string RoleName(ChatRole role) => role == ChatRole.Tool ? "ipython" : role.Value;
}

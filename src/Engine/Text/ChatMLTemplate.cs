using System.Text;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>ChatML (Qwen, many fine-tunes): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message.</summary>
public sealed class ChatMLTemplate : IChatTemplate
{
    public string Name => ChatTemplates.ChatML;

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IList<AITool>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append("<|im_start|>").Append(message.Role.Value).Append('\n').Append(message.Text).Append("<|im_end|>\n");
        }
        if (addGenerationPrompt)
        {
            text.Append("<|im_start|>assistant\n");
        }
        return text.ToString();
    }
}

using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>Formats a conversation into the prompt text a chat model was trained on.</summary>
public interface IChatTemplate
{
    /// <summary>The name it is chosen by (<c>llama3</c>, <c>chatml</c>, <c>falcon</c>), or the file a model's own template came from.</summary>
    string Name { get; }

    /// <summary>
    /// The prompt for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> it ends with the
    /// opening of an assistant turn so that the model writes the reply. Special tokens appear as their text.
    /// <paramref name="tools"/> are offered to the model where the template supports tools (built-in templates ignore them).
    /// </summary>
    string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IList<AITool>? tools = null);
}

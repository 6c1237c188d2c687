using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>
/// A prompt that ends inside the conversation's final message instead of opening a new assistant turn (what
/// Hugging Face's and vLLM's <c>continue_final_message</c> do): the model continues that message. With an empty
/// final user message the prompt ends with the template's pre-query text (Llama 3:
/// <c>&lt;|start_header_id|&gt;user&lt;|end_header_id|&gt;\n\n</c>), so the model writes a user's request: Magpie.
/// The text is derived from the template itself, whatever the family: the conversation is rendered with the final
/// message's content replaced by a marker, and the prompt is cut where the marker starts.
/// </summary>
public static class FinalMessageContinuation
{
    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key (true: continue the final message).</summary>
    public const string OptionKey = "continue_final_message";

    // No whitespace, so templates that trim content keep it whole; control characters, so no real text holds it.
    private const string Marker = "\u0002distil-final-message\u0003";

    /// <summary>Whether <paramref name="options"/> asks for the final message to be continued.</summary>
    public static bool IsRequested(ChatOptions? options) =>
        options?.AdditionalProperties is { } extra && extra.TryGetValue(OptionKey, out var value) && value is true;

    /// <summary>The prompt that ends with the final message's content, open for the model to continue.</summary>
    /// <exception cref="InvalidOperationException">No messages, or the template does not show the final message's content as it is.</exception>
    public static string Render(IChatTemplate template, IReadOnlyList<ChatMessage> messages, IList<AITool>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new InvalidOperationException("continue_final_message needs at least one message");
        }

        var final = messages[^1];
        var marked = messages.Take(messages.Count - 1).Append(new ChatMessage(final.Role, Marker)).ToList();
        var rendered = template.Render(marked, addGenerationPrompt: false, tools);
        var at = rendered.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0 || rendered.IndexOf(Marker, at + Marker.Length, StringComparison.Ordinal) >= 0)
        {
            throw new InvalidOperationException($"the chat template '{template.Name}' does not show the final {final.Role.Value} message's content once and unchanged, so it cannot be continued");
        }

        return rendered[..at] + final.Text;
    }
}

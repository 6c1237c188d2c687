using System.Text;

namespace Distil.Judge;

/// <summary>
/// What a judge grades responses against: the instruction, and for a conversation the messages before it. The
/// judges rate the next assistant turn of a chat the way they rate a single answer (UltraFeedback's "instruction"
/// is the last user turn), with the earlier turns shown above it so a reply that depends on them is judged fairly.
/// A plain string converts to an instruction without context.
/// </summary>
public sealed record JudgeInstruction(string Text, IReadOnlyList<(string Role, string Content)> Context)
{
    public static implicit operator JudgeInstruction(string text) => new(text, []);

    /// <summary>Writes the row's <c>## Instruction</c> section, preceded by <c>## Conversation so far</c> when there is context.</summary>
    public void AppendTo(StringBuilder text)
    {
        if (Context.Count > 0)
        {
            text.Append("## Conversation so far\n")
                .Append("The instruction below is the user's latest turn in this conversation; the responses are candidates for the assistant's next turn.\n");
            foreach (var (role, content) in Context)
            {
                text.Append("\n### ").Append(char.ToUpperInvariant(role[0])).Append(role.AsSpan(1)).Append('\n').Append(content.Trim()).Append('\n');
            }

            text.Append('\n');
        }

        text.Append("## Instruction\n").Append(Text.Trim()).Append("\n\n");
    }
}

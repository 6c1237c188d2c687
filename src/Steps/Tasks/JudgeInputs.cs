using Distil.Judge;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// What every judge reads from a row: the prompt (the <c>instruction</c>, or with <c>"input": "messages"</c> the
/// conversation, whose last user turn is the instruction and earlier turns its context) and the <c>generations</c>
/// to rate, all present.
/// </summary>
internal static class JudgeInputs
{
    public static bool TryRead(Row row, bool messages, out JudgeInstruction instruction, out IReadOnlyList<string> responses, out string problem)
    {
        instruction = string.Empty;
        responses = [];
        problem = string.Empty;
        if (messages)
        {
            if (!Conversation.TryRead(row, Conversation.Column, out var conversation, out problem))
            {
                return false;
            }

            instruction = conversation.ForJudge;
        }
        else
        {
            instruction = row.GetString("instruction") ?? string.Empty;
            if (string.IsNullOrWhiteSpace(instruction.Text))
            {
                problem = "the column 'instruction' is missing or empty";
                return false;
            }
        }

        if (row["generations"] is not IReadOnlyList<object?> list || list.Count == 0)
        {
            problem = "the column 'generations' is missing or not a list";
            return false;
        }

        if (list.Any(g => g is not string))
        {
            problem = "a response in 'generations' is missing (its generation failed?)";
            return false;
        }

        responses = list.Cast<string>().ToList();
        return true;
    }
}

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
    /// <summary>
    /// The rows of <paramref name="rows"/> that hold what a judge reads, in order; every other row is failed with
    /// the reason, so it reaches no model.
    /// </summary>
    public static List<JudgeInput> ReadOrFail(IReadOnlyList<Row> rows, bool messages, ModelCalls calls)
    {
        var readable = new List<JudgeInput>(rows.Count);
        foreach (var row in rows)
        {
            if (TryRead(row, messages, out var instruction, out var responses, out var problem))
            {
                readable.Add(new JudgeInput(row, instruction, responses));
            }
            else
            {
                calls.Fail(row, problem);
            }
        }

        return readable;
    }

    private static bool TryRead(Row row, bool messages, out JudgeInstruction instruction, out IReadOnlyList<string> responses, out string problem)
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

/// <summary>A row a judge can rate: its prompt and the responses to judge, all present.</summary>
internal readonly record struct JudgeInput(Row Row, JudgeInstruction Instruction, IReadOnlyList<string> Responses);

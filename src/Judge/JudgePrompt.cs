using System.Globalization;
using System.Text;
using Microsoft.Extensions.AI;

namespace Distil.Judge;

/// <summary>How the judge is asked to answer.</summary>
public enum JudgeOutputStyle
{
    /// <summary>One JSON object (<c>ratings</c>, <c>rationales</c>, maybe <c>types</c>); enforced by a JSON schema where the model supports it.</summary>
    Json,

    /// <summary>The classic UltraFeedback free-text sections (<c>#### Output for Text k</c>), for remote judges without structured output.</summary>
    FreeText,
}

/// <summary>
/// Builds the judge conversation for one row. The system message holds everything that does not depend on the
/// row (rubric, scale, answer format), so every judge prompt of a run starts with the same tokens and the engine's
/// prefix cache serves that part once; the user message holds the instruction and the N numbered responses.
/// </summary>
public static class JudgePrompt
{
    public static string SystemMessage(UltraFeedbackAspect aspect, JudgeOutputStyle style)
    {
        var text = new StringBuilder();
        text.Append("You are a careful, impartial evaluator of answers written by AI assistants. ")
            .Append("Your task: ").Append(aspect.Title.ToLowerInvariant()).Append(" assessment.\n\n")
            .Append(aspect.Goal).Append("\n\nWhat to consider:\n");
        foreach (var criterion in aspect.Criteria)
        {
            text.Append("- ").Append(criterion).Append('\n');
        }

        text.Append("\nScore each response with an integer from ")
            .Append(UltraFeedbackAspect.MinRating).Append(" to ").Append(UltraFeedbackAspect.MaxRating).Append(":\n");
        foreach (var level in aspect.Scale)
        {
            text.Append(level.Score).Append(" (").Append(level.Label).Append("): ").Append(level.Meaning).Append('\n');
        }

        if (aspect.HasTypes)
        {
            text.Append('\n').Append(aspect.TypesQuestion).Append('\n');
            for (var i = 0; i < aspect.Types!.Count; i++)
            {
                text.Append(i + 1).Append(". ").Append(aspect.Types[i]).Append('\n');
            }
        }

        text.Append("\nRate each response on its own merits against the instruction. The order in which the responses ")
            .Append("are shown says nothing about their quality, and length alone is not a virtue. ")
            .Append("Rate every response you are given, exactly once, in the order shown.\n\n");
        text.Append(style == JudgeOutputStyle.Json ? JsonFormat(aspect) : FreeTextFormat(aspect));
        return text.ToString();
    }

    public static string UserMessage(JudgeInstruction instruction, IReadOnlyList<string> shownResponses)
    {
        var n = shownResponses.Count.ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        instruction.AppendTo(text);
        text.Append("## Responses\nThere are ").Append(n).Append(" responses, numbered 1 to ").Append(n)
            .Append(". Give exactly ").Append(n).Append(" ratings.\n");
        for (var i = 0; i < shownResponses.Count; i++)
        {
            text.Append("\n### Text ").Append(i + 1).Append('\n').Append(shownResponses[i].Trim()).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The full conversation: the shared rubric as system message, then the row.</summary>
    public static IReadOnlyList<ChatMessage> Messages(UltraFeedbackAspect aspect, JudgeOutputStyle style, JudgeInstruction instruction, IReadOnlyList<string> shownResponses) =>
    [
        new(ChatRole.System, SystemMessage(aspect, style)),
        new(ChatRole.User, UserMessage(instruction, shownResponses)),
    ];

    private static string JsonFormat(UltraFeedbackAspect aspect)
    {
        var text = new StringBuilder("Answer with one JSON object and nothing else:\n")
            .Append("- \"ratings\": one integer from 1 to 5 per response, in the order shown;\n")
            .Append("- \"rationales\": one short justification (a sentence or two) per response, in the same order");
        if (aspect.HasTypes)
        {
            text.Append(";\n- \"types\": per response, the list of type numbers that apply (an empty list when none do)");
        }

        return text.Append(".\nExample for two responses: ")
            .Append(aspect.HasTypes
                ? "{\"ratings\": [4, 2], \"rationales\": [\"...\", \"...\"], \"types\": [[1, 2], []]}"
                : "{\"ratings\": [4, 2], \"rationales\": [\"...\", \"...\"]}")
            .Append('\n').ToString();
    }

    private static string FreeTextFormat(UltraFeedbackAspect aspect)
    {
        var text = new StringBuilder("Answer with one section per response, in order, exactly like this:\n\n")
            .Append("#### Output for Text 1\n");
        if (aspect.HasTypes)
        {
            text.Append("Type: <type numbers separated by commas, or None>\n");
        }

        return text.Append("Rating: <an integer from 1 to 5>\n")
            .Append("Rationale: <a sentence or two>\n\n")
            .Append("#### Output for Text 2\n...\n")
            .ToString();
    }
}

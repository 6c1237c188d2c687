using Distil.Judge;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

public class JudgePromptTests
{
    public static TheoryData<string> Aspects() => new(UltraFeedbackAspect.All.Select(a => a.Name));

    [Theory]
    [MemberData(nameof(Aspects))]
    public void System_message_carries_the_aspect_rubric_and_full_scale(string name)
    {
        Assert.True(UltraFeedbackAspect.TryParse(name, out var aspect));
        var system = JudgePrompt.SystemMessage(aspect, JudgeOutputStyle.Json);

        Assert.Contains(aspect.Goal, system);
        foreach (var criterion in aspect.Criteria)
        {
            Assert.Contains(criterion, system);
        }

        Assert.Equal(5, aspect.Scale.Count);
        for (var score = 1; score <= 5; score++)
        {
            var level = aspect.Scale[score - 1];
            Assert.Equal(score, level.Score);
            Assert.Contains($"{score} ({level.Label}): {level.Meaning}", system);
        }

        Assert.Contains("\"ratings\"", system);
        Assert.Contains("\"rationales\"", system);
        Assert.Equal(aspect.HasTypes, system.Contains("\"types\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Only_helpfulness_and_truthfulness_ask_for_types()
    {
        Assert.Equal(
            ["helpfulness", "truthfulness"],
            UltraFeedbackAspect.All.Where(a => a.HasTypes).Select(a => a.Name).ToArray());
        var system = JudgePrompt.SystemMessage(UltraFeedbackAspect.Truthfulness, JudgeOutputStyle.FreeText);
        Assert.Contains("1. Contradicts the world", system);
        Assert.Contains("3. Contradicts itself", system);
        Assert.Contains("Type:", system);
    }

    [Theory]
    [MemberData(nameof(Aspects))]
    public void User_message_numbers_every_response_and_states_n(string name)
    {
        Assert.True(UltraFeedbackAspect.TryParse(name, out var aspect));
        var messages = JudgePrompt.Messages(aspect, JudgeOutputStyle.Json, "Name three primes.", ["2, 3, 5", "4, 6, 8", "I don't know"]);

        Assert.Equal([ChatRole.System, ChatRole.User], messages.Select(m => m.Role).ToArray());
        var user = messages[1].Text;
        Assert.Contains("Name three primes.", user);
        Assert.Contains("There are 3 responses", user);
        Assert.Contains("exactly 3 ratings", user);
        var first = user.IndexOf("### Text 1\n2, 3, 5", StringComparison.Ordinal);
        var second = user.IndexOf("### Text 2\n4, 6, 8", StringComparison.Ordinal);
        var third = user.IndexOf("### Text 3\nI don't know", StringComparison.Ordinal);
        Assert.True(first > 0 && second > first && third > second, user);
        Assert.DoesNotContain("### Text 4", user);
    }

    [Fact]
    public void Every_row_shares_the_same_system_prefix()
    {
        var a = JudgePrompt.Messages(UltraFeedbackAspect.OverallRating, JudgeOutputStyle.Json, "short", ["x", "y"]);
        var b = JudgePrompt.Messages(UltraFeedbackAspect.OverallRating, JudgeOutputStyle.Json, "a much longer instruction", ["one", "two", "three", "four"]);

        Assert.Equal(a[0].Text, b[0].Text);
        Assert.NotEqual(a[1].Text, b[1].Text);
    }

    [Fact]
    public void Free_text_style_asks_for_the_classic_sections()
    {
        var system = JudgePrompt.SystemMessage(UltraFeedbackAspect.Honesty, JudgeOutputStyle.FreeText);
        Assert.Contains("#### Output for Text 1", system);
        Assert.Contains("Rating:", system);
        Assert.Contains("Rationale:", system);
        Assert.DoesNotContain("Type:", system);
    }
}

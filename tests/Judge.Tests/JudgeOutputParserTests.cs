using Distil.Judge;

namespace Distil.Judge.Tests;

public class JudgeOutputParserTests
{
    private static readonly UltraFeedbackAspect Overall = UltraFeedbackAspect.OverallRating;

    [Fact]
    public void Parses_the_json_form()
    {
        var result = JudgeOutputParser.Parse("{\"ratings\": [4, 2, 5], \"rationales\": [\"good\", \"weak\", \"best\"]}", 3, Overall);

        Assert.True(result.Success, result.Error);
        Assert.Equal([4, 2, 5], result.Verdict!.Ratings);
        Assert.Equal(["good", "weak", "best"], result.Verdict.Rationales);
        Assert.Null(result.Verdict.Types);
    }

    [Fact]
    public void Parses_json_inside_a_code_fence_with_prose_around_it()
    {
        var text = "Here is my evaluation:\n```json\n{\"ratings\": [\"3\", 1], \"rationales\": [\"ok\", \"off topic\"]}\n```\nThanks.";
        var result = JudgeOutputParser.Parse(text, 2, Overall);

        Assert.True(result.Success, result.Error);
        Assert.Equal([3, 1], result.Verdict!.Ratings);
    }

    [Fact]
    public void Parses_json_types_for_aspects_with_types()
    {
        var text = "{\"ratings\": [5, 2], \"rationales\": [\"a\", \"b\"], \"types\": [[1, 3], []]}";
        var result = JudgeOutputParser.Parse(text, 2, UltraFeedbackAspect.Truthfulness);

        Assert.True(result.Success, result.Error);
        Assert.Equal([1, 3], result.Verdict!.Types![0]);
        Assert.Empty(result.Verdict.Types[1]);
    }

    [Fact]
    public void Parses_the_classic_free_text_form()
    {
        const string text = """
            #### Output for Text 1
            Rating: 4
            Rationale: Correct and clear.

            #### Output for Text 2
            Rating: [2]
            Rationale: Misses the second half of the question.
            """;
        var result = JudgeOutputParser.Parse(text, 2, Overall);

        Assert.True(result.Success, result.Error);
        Assert.Equal([4, 2], result.Verdict!.Ratings);
        Assert.Equal(["Correct and clear.", "Misses the second half of the question."], result.Verdict.Rationales);
    }

    [Fact]
    public void Parses_free_text_types_and_takes_the_rationale_after_the_rating()
    {
        const string text = """
            #### Output for Text 1
            Type: 1, 2
            Rationale: Clear and useful.
            Rating: 4
            Rationale: Informative.

            #### Output for Text 2
            Type: None
            Rationale: Nothing stands out.
            Rating: 1
            Rationale: Wrong answer.
            """;
        var result = JudgeOutputParser.Parse(text, 2, UltraFeedbackAspect.Helpfulness);

        Assert.True(result.Success, result.Error);
        Assert.Equal([4, 1], result.Verdict!.Ratings);
        Assert.Equal(["Informative.", "Wrong answer."], result.Verdict.Rationales);
        Assert.Equal([1, 2], result.Verdict.Types![0]);
        Assert.Empty(result.Verdict.Types[1]);
    }

    [Fact]
    public void Parses_rating_lines_without_headings()
    {
        var result = JudgeOutputParser.Parse("Rating: 5\nRationale: great\n\nRating: 3\nRationale: fine", 2, Overall);

        Assert.True(result.Success, result.Error);
        Assert.Equal([5, 3], result.Verdict!.Ratings);
        Assert.Equal(["great", "fine"], result.Verdict.Rationales);
    }

    [Theory]
    [InlineData("{\"ratings\": [4, 2], \"rationales\": [\"a\", \"b\"]}", "expected 3 ratings, the judge gave 2")]
    [InlineData("{\"ratings\": [4, 2, 5, 1], \"rationales\": [\"a\", \"b\", \"c\", \"d\"]}", "expected 3 ratings, the judge gave 4")]
    [InlineData("{\"ratings\": [4, 6, 5], \"rationales\": [\"a\", \"b\", \"c\"]}", "outside 1..5")]
    [InlineData("{\"ratings\": [4, 0, 5], \"rationales\": [\"a\", \"b\", \"c\"]}", "outside 1..5")]
    [InlineData("{\"ratings\": [4, 2.5, 5], \"rationales\": [\"a\", \"b\", \"c\"]}", "not an integer")]
    [InlineData("{\"ratings\": [4, \"good\", 5], \"rationales\": [\"a\", \"b\", \"c\"]}", "not a number")]
    [InlineData("{\"ratings\": [4, 2, 5], \"rationales\": [\"a\", \"b\"]}", "expected 3 rationales")]
    [InlineData("{\"ratings\": [4, 2, 5", "does not parse")]
    [InlineData("{\"scores\": [4, 2, 5]}", "no \"ratings\"")]
    [InlineData("", "empty")]
    [InlineData("the first one is best, then the third", "neither a JSON object nor 'Rating:' lines")]
    [InlineData("#### Output for Text 1\nRating: 4\n#### Output for Text 2\nRating: 2", "expected 3 ratings, the judge gave 2")]
    [InlineData("#### Output for Text 1\nRating: 4\n#### Output for Text 3\nRating: 2\n#### Output for Text 2\nRating: 2", "expected the section for Text 2, found Text 3")]
    [InlineData("#### Output for Text 1\nRating: 4\n#### Output for Text 2\nRating: N/A\n#### Output for Text 3\nRating: 2", "'N/A' is not a number")]
    [InlineData("#### Output for Text 1\nRating: 4\n#### Output for Text 2\nRating: 4.5\n#### Output for Text 3\nRating: 2", "is not a number")]
    [InlineData("#### Output for Text 1\nRating: 4\n#### Output for Text 2\nRating: 7\n#### Output for Text 3\nRating: 2", "the rating 7 is outside 1..5")]
    [InlineData("#### Output for Text 1\nRating: 4\n#### Output for Text 2\nNo idea\n#### Output for Text 3\nRating: 2", "Text 2 has no 'Rating:' line")]
    public void Malformed_answers_are_errors_never_a_shifted_list(string text, string expected)
    {
        var result = JudgeOutputParser.Parse(text, 3, Overall);

        Assert.False(result.Success);
        Assert.Null(result.Verdict);
        Assert.Contains(expected, result.Error);
    }
}

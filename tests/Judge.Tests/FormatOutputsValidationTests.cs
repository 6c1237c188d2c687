using Distil.Pipeline;

namespace Distil.Judge.Tests;

/// <summary>format_outputs refuses bad parameters when the definition is read, naming the JSON path and what is accepted.</summary>
public sealed class FormatOutputsValidationTests
{
    [Theory]
    [InlineData("\"configs\": [\"dpo\", \"orpo\"]", "$.steps[0].configs", "choose from dpo, kto, sft, reward")]
    [InlineData("\"configs\": []", "$.steps[0].configs", "at least one")]
    [InlineData("\"configs\": [\"kto\", \"kto\"]", "$.steps[0].configs", "listed twice")]
    [InlineData("\"test_size\": 0", "$.steps[0].test_size", "a fraction between 0 and 1")]
    [InlineData("\"test_size\": 1.5", "$.steps[0].test_size", "a fraction between 0 and 1")]
    [InlineData("\"test_size\": \"10%\"", "$.steps[0].test_size", "a whole number of pairs")]
    [InlineData("\"seed\": 3", "$.steps[0].seed", "it needs 'test_size'")]
    [InlineData("\"row_group_size\": 0", "$.steps[0].row_group_size", "at least 1")]
    public void Bad_parameters_are_located_errors(string extra, string path, string says)
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Steps.Create($"{{\"name\": \"formats\", \"type\": \"format_outputs\", {extra}}}"));

        Assert.Equal(path, e.JsonPath);
        Assert.Contains(says, e.Message);
    }

    [Fact]
    public void A_valid_step_reads_the_pair_columns_and_the_ratings_when_scores_are_asked()
    {
        var plain = Steps.Create("{\"name\": \"formats\", \"type\": \"format_outputs\", \"configs\": [\"kto\", \"reward\"], \"test_size\": 0.2, \"seed\": 1}");
        var scored = Steps.Create("{\"name\": \"formats\", \"type\": \"format_outputs\", \"scores\": true, \"test_size\": 12}");

        Assert.Equal(["prompt", "chosen", "rejected", "prompt_id"], plain.InputColumns);
        Assert.Equal(["prompt", "chosen", "rejected", "prompt_id", "chosen_rating", "rejected_rating"], scored.InputColumns);
    }
}

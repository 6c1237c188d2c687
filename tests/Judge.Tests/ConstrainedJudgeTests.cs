using System.Text.Json;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

[Collection(TinyModelCollection.Name)]
public class ConstrainedJudgeTests(TinyModels models)
{
    [Fact]
    public async Task A_random_tiny_judge_always_returns_exactly_n_ratings()
    {
        using var judge = models.Open(models.A);
        var context = new RecordingStepContext(new Dictionary<string, IChatClient> { ["judge"] = judge });
        var step = (IBatchStep)Steps.Create("{\"name\": \"judge\", \"type\": \"ultrafeedback\", \"model\": \"judge\", \"rationale_max_length\": 24, \"generation\": {\"temperature\": 1.0, \"seed\": 5}}");
        var rows = Enumerable.Range(0, 12).Select(i => Steps.Row(
            i,
            ("instruction", $"Question number {i}: why is the sky blue?"),
            ("generations", Enumerable.Range(0, 2 + (i % 3)).Select(k => (object?)$"answer {k} to {i}").ToList()))).ToArray();

        var output = await step.ProcessAsync(rows, context, default);

        Assert.Empty(context.Errors);
        foreach (var row in output)
        {
            var n = ((IReadOnlyList<object?>)row["generations"]!).Count;
            var ratings = (IReadOnlyList<object?>)row["ratings"]!;
            Assert.Equal(n, ratings.Count);
            Assert.All(ratings, r => Assert.InRange((long)r!, 1, 5));
            Assert.Equal(n, ((IReadOnlyList<object?>)row["rationales"]!).Count);
            Assert.Equal("tiny-a", row["judge_model"]);
        }

        Assert.True(context.OutputTokens > 0);
    }

    [Theory]
    [InlineData("helpfulness", 2)]
    [InlineData("truthfulness", 3)]
    [InlineData("honesty", 4)]
    public async Task Raw_constrained_output_is_valid_json_matching_the_schema(string aspectName, int n)
    {
        using var judge = models.Open(models.B);
        Assert.True(UltraFeedbackAspect.TryParse(aspectName, out var aspect));
        var messages = JudgePrompt.Messages(aspect, JudgeOutputStyle.Json, "Explain rain.", Enumerable.Range(0, n).Select(i => $"response {i}").ToList());
        for (var seed = 0; seed < 4; seed++)
        {
            var response = await judge.GetResponseAsync(messages, new ChatOptions
            {
                ResponseFormat = ChatResponseFormat.ForJsonSchema(JudgeSchema.For(aspect, n, 20), JudgeSchema.Name),
                MaxOutputTokens = JudgeSchema.MaxOutputTokens(aspect, n, 20),
                Temperature = 1.0f,
                Seed = seed,
            });

            using var document = JsonDocument.Parse(response.Text);
            var root = document.RootElement;
            Assert.Equal(n, root.GetProperty("ratings").GetArrayLength());
            Assert.All(root.GetProperty("ratings").EnumerateArray(), r => Assert.InRange(r.GetInt32(), 1, 5));
            Assert.All(root.GetProperty("rationales").EnumerateArray(), r => Assert.InRange(r.GetString()!.Length, 1, 20));
            Assert.Equal(aspect.HasTypes, root.TryGetProperty("types", out _));
            Assert.True(JudgeOutputParser.Parse(response.Text, n, aspect).Success);
        }
    }
}

using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Judge.Tests;

public class DatasetCardStepTests
{
    [Fact]
    public async Task Card_sums_token_columns_counts_ratings_and_models_and_writes_readme_atomically()
    {
        var folder = Path.Combine(Path.GetTempPath(), "distil-card-" + Guid.NewGuid().ToString("N")[..8]);
        var definition = Path.Combine(folder, "my-pipeline.json");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(definition, "// comment\n{ \"name\": \"my-pipeline\", \"steps\": [] }");
        try
        {
            var element = System.Text.Json.JsonDocument.Parse("{\"name\": \"card\", \"type\": \"dataset_card\", \"data_files\": [\"data.parquet\"], \"tags\": [\"math\"]}").RootElement.Clone();
            Assert.True(Steps.Registry.TryGet("dataset_card", out var type));
            var sink = (ISinkStep)type.Create(new StepParameters(element, "$.steps[7]", definition, _ => 9));
            var output = Path.Combine(folder, "out");
            await sink.OpenAsync(new SinkContext(output, folder), new RecordingStepContext(new Dictionary<string, IChatClient>()), default);
            await sink.WriteAsync(
                [
                    Steps.Row(0, ("ratings", Steps.List(5L, 2L)), ("chosen_model", "a"), ("rejected_model", "b"), ("judge_model", "j"),
                        ("gen_a_input_tokens", 10L), ("gen_a_output_tokens", 48L), ("judge_input_tokens", 500L), ("judge_output_tokens", 30L)),
                    Steps.Row(1, ("ratings", Steps.List(4L, 5L)), ("chosen_model", "b"), ("rejected_model", "a"), ("judge_model", "j"),
                        ("gen_a_input_tokens", 12L), ("gen_a_output_tokens", 40L), ("judge_input_tokens", 480L), ("judge_output_tokens", 28L)),
                ],
                default);
            Assert.False(File.Exists(Path.Combine(output, "README.md")));

            var files = await sink.CompleteAsync(default);

            var readme = Assert.Single(files);
            Assert.Equal(Path.Combine(output, "README.md"), readme);
            var text = await File.ReadAllTextAsync(readme);
            Assert.StartsWith("---\npretty_name: my-pipeline\n", text);
            Assert.Contains("- math\n", text);
            Assert.Contains("| rows | 2 |", text);
            Assert.Contains("| input tokens | 1,002 |", text);
            Assert.Contains("| output tokens | 146 |", text);
            Assert.Contains("| 2 | 1 |\n| 4 | 1 |\n| 5 | 2 |", text);
            Assert.Contains("| `a` | 1 | 1 |", text);
            Assert.Contains("{ \"name\": \"my-pipeline\", \"steps\": [] }", text);
            Assert.Empty(Directory.GetFiles(output, "*.tmp"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Data_files_outside_the_output_folder_are_rejected()
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => Steps.Create("{\"name\": \"card\", \"type\": \"dataset_card\", \"data_files\": [\"../x.parquet\"]}"));
        Assert.Equal("$.steps[0].data_files", e.JsonPath);
    }
}

using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>Step and sink names become file and folder names under the run folder, so they are checked like file names.</summary>
public sealed class StepNameTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public StepNameTests() => _ws.WritePrompts(5);

    public void Dispose() => _ws.Dispose();

    [Theory]
    [InlineData("../x")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("with space")]
    [InlineData("")]
    public void A_step_name_that_is_not_a_plain_file_name_is_refused_where_it_is_written(string name)
    {
        var e = Assert.Throws<PipelineDefinitionException>(() => _ws.Define($$"""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": {{JsonSerializer.Serialize(name)}}, "type": "write_parquet" }
              ]
            }
            """, TestSteps.Registry()));

        Assert.Equal(5, e.Line);
        Assert.Equal("$.steps[1].name", e.JsonPath);
        Assert.EndsWith(".json", e.File);
        Assert.Contains("letters, digits", e.Message);
    }

    [Fact]
    public void Letters_digits_dots_dashes_and_underscores_are_accepted()
    {
        var definition = _ws.Define("""
            {
              "name": "p",
              "steps": [
                { "name": "Load-1", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "write_v2.final", "type": "write_parquet" }
              ]
            }
            """, TestSteps.Registry());

        Assert.Equal(["Load-1", "write_v2.final"], definition.Steps.Select(s => s.Name));
    }
}

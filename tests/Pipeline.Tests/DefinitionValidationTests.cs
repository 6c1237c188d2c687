using Distil.Steps;

namespace Distil.Pipeline.Tests;

/// <summary>A definition is checked before anything runs, and each error names the file, line and JSON path.</summary>
public sealed class DefinitionValidationTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public DefinitionValidationTests() => _ws.WritePrompts(5);

    public void Dispose() => _ws.Dispose();

    private PipelineDefinitionException Invalid(string json) =>
        Assert.Throws<PipelineDefinitionException>(() => _ws.Define(json, TestSteps.Registry()));

    [Fact]
    public void Comments_trailing_commas_and_implied_order_are_accepted()
    {
        var definition = _ws.Define("""
            // prompts in, parquet out
            {
              "name": "ok",
              /* block comment */
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl", },
                { "name": "keep", "type": "keep_columns", "columns": ["instruction"] },
                { "name": "out", "type": "write_parquet" },
              ],
              "schedule": { "cron": "0 3 * * *" },
            }
            """);

        Assert.Equal("ok", definition.Name);
        Assert.Equal("0 3 * * *", definition.Schedule);
        Assert.Equal(["load"], definition["keep"].After);
        Assert.Equal(["keep"], definition["out"].After);
        Assert.Equal(["instruction", "n", "topic"], definition["load"].ColumnsOut);
        Assert.Equal(["instruction"], definition["keep"].ColumnsOut);
    }

    [Fact]
    public void Unknown_step_type_names_line_and_path()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "x",
                  "type": "no_such_step" }
              ]
            }
            """);
        Assert.Equal(6, e.Line);
        Assert.Equal("$.steps[1].type", e.JsonPath);
        Assert.Contains("unknown step type 'no_such_step'", e.Message);
        Assert.Contains("pipeline.json", e.Message);
        Assert.Contains("line 6", e.Message);
    }

    [Fact]
    public void Unknown_parameter_names_line_and_path()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                {
                  "name": "keep",
                  "type": "keep_columns",
                  "columns": ["instruction"],
                  "colums": ["n"]
                }
              ]
            }
            """);
        Assert.Equal(9, e.Line);
        Assert.Equal("$.steps[1].colums", e.JsonPath);
        Assert.Contains("has no parameter 'colums'", e.Message);
    }

    [Fact]
    public void Cycle_is_rejected_with_its_steps()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "combine_columns", "columns": ["tag"], "after": ["load", "b"] },
                { "name": "b", "type": "tag", "label": "b", "after": ["a"] }
              ]
            }
            """);
        Assert.Contains("cycle", e.Message);
        Assert.Contains("a → b", e.Message.Replace("b → a", "a → b"));
        Assert.True(e.Line is 5 or 6, $"line {e.Line}");
    }

    [Fact]
    public void Missing_column_is_rejected_before_running()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "keep", "type": "keep_columns", "columns": ["instruction"] },
                { "name": "rec", "type": "record", "needs": ["topic"] }
              ]
            }
            """);
        Assert.Equal(6, e.Line);
        Assert.Equal("$.steps[2]", e.JsonPath);
        Assert.Contains("needs column 'topic'", e.Message);
    }

    [Fact]
    public void Input_mappings_satisfy_a_column_need()
    {
        var definition = _ws.Define("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "rec", "type": "record", "needs": ["prompt"], "input_mappings": { "prompt": "instruction" } }
              ]
            }
            """, TestSteps.Registry());
        Assert.Contains("instruction", definition["rec"].ColumnsOut!);
        Assert.DoesNotContain("prompt", definition["rec"].ColumnsOut!);
    }

    [Fact]
    public void Duplicate_step_names_are_rejected()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "load", "type": "keep_columns", "columns": ["n"] }
              ]
            }
            """);
        Assert.Equal(5, e.Line);
        Assert.Equal("$.steps[1].name", e.JsonPath);
        Assert.Contains("used twice", e.Message);
    }

    [Fact]
    public void Missing_input_file_is_named()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl",
                  "path": "data/nope.jsonl" }
              ]
            }
            """);
        Assert.Equal(5, e.Line);
        Assert.Contains("nope.jsonl", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Missing_definition_file_is_named()
    {
        var path = Path.Combine(_ws.Root, "absent.json");
        var e = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Load(path, BuiltInSteps.CreateRegistry()));
        Assert.Equal(path, e.File);
        Assert.Contains("absent.json", e.Message);
    }

    [Fact]
    public void Json_syntax_error_names_the_line()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load" "type": "load_jsonl" }
              ]
            }
            """);
        Assert.Equal(4, e.Line);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void Undefined_model_is_rejected()
    {
        var registry = TestSteps.Registry();
        registry.Register(new StepType("gen", ["model"], p => new KeepColumns(p.Name), "test"));
        var e = Assert.Throws<PipelineDefinitionException>(() => _ws.Define("""
            {
              "name": "p",
              "models": { "a": { "type": "local" } },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "g", "type": "gen", "model": "b" }
              ]
            }
            """, registry));
        var undefined = Assert.Single(e.Problems, p => p.JsonPath == "$.steps[1].model");
        Assert.Equal(6, undefined.Line);
        Assert.Contains(e.Problems, p => p.JsonPath == "$.models.a.path"); // reported in the same pass
    }

    [Fact]
    public void Only_fan_in_steps_take_several_predecessors()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "tag", "label": "a" },
                { "name": "b", "type": "tag", "label": "b", "after": ["load"] },
                { "name": "k", "type": "keep_columns", "columns": ["tag"], "after": ["a", "b"] }
              ]
            }
            """);
        Assert.Equal(7, e.Line);
        Assert.Contains("combine_columns", e.Message);
    }

    [Fact]
    public void Unknown_predecessor_is_rejected()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
                { "name": "a", "type": "tag", "label": "a", "after": ["lod"] }
              ]
            }
            """);
        Assert.Equal(5, e.Line);
        Assert.Equal("$.steps[1].after", e.JsonPath);
        Assert.Contains("'lod'", e.Message);
    }

    [Fact]
    public void Bad_parameter_value_names_the_parameter()
    {
        var e = Invalid("""
            {
              "name": "p",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl",
                  "on_error": "ignore" }
              ]
            }
            """);
        Assert.Equal(5, e.Line);
        Assert.Equal("$.steps[0].on_error", e.JsonPath);
    }

    private sealed class KeepColumns(string name) : IBatchStep
    {
        public string Name => name;

        public IReadOnlyList<string> InputColumns => [];

        public IReadOnlyList<string> OutputColumns => [];

        public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken) => ValueTask.FromResult(rows);
    }
}

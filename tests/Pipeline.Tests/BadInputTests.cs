using System.Runtime.InteropServices;
using System.Text;
using Distil.Steps;

namespace Distil.Pipeline.Tests;

/// <summary>
/// Every kind of bad input is caught by the one validation pass (or by the loader, for data), located
/// (file, line, JSON path), with no unhandled exception, no hang and no silent acceptance.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public BadInputTests() => _ws.WritePrompts(5);

    public void Dispose() => _ws.Dispose();

    private PipelineDefinitionException Invalid(string json) =>
        Assert.Throws<PipelineDefinitionException>(() => _ws.Define(json));

    private static string Pipeline(string steps, string models = "{}", string extra = "") => $$"""
        {
          "name": "p",{{extra}}
          "models": {{models}},
          "steps": [
            { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
            {{steps}}
          ]
        }
        """;

    private const string Sink = """{ "name": "out", "type": "write_parquet", "path": "x.parquet" }""";

    private const string TinyModel = """{ "type": "local", "path": "models/never-built", "build": { "preset": "tiny", "seed": 1 } }""";

    [Fact]
    public void A_value_of_the_wrong_kind_where_an_object_is_expected_is_located()
    {
        var model = Invalid(Pipeline(Sink, models: """{ "gen-a": [] }"""));
        Assert.Equal("$.models.gen-a", model.JsonPath);
        Assert.Contains("must be an object", model.Message);

        var number = Invalid(Pipeline("42, " + Sink));
        Assert.Equal("$.steps[1]", number.JsonPath);
        Assert.Equal(6, number.Line);

        var text = Invalid(Pipeline("\"load\", " + Sink));
        Assert.Equal("$.steps[1]", text.JsonPath);
        Assert.Contains("not the string 'load'", text.Message);
    }

    [Theory]
    [InlineData("input_batch_size")]
    [InlineData("max_parallelism")]
    public void Integers_beyond_int32_are_range_checked_not_cast(string key)
    {
        var e = Invalid(Pipeline($$"""{ "name": "out", "type": "write_parquet", "{{key}}": 2147483648 }"""));
        Assert.Equal($"$.steps[1].{key}", e.JsonPath);
        Assert.Contains("must be an integer from 1 to", e.Message);
        Assert.Contains("2147483648", e.Message);
    }

    [Fact]
    public void Task_parameters_and_model_threads_beyond_their_range_are_located()
    {
        var e = Invalid(Pipeline(
            """{ "name": "judge", "type": "ultrafeedback", "model": "m", "rationale_max_length": 2147483648 }, """ + Sink,
            models: """{ "m": { "type": "local", "path": "models/never-built", "build": { "preset": "tiny" }, "threads": 100000 } }"""));
        Assert.Contains(e.Problems, p => p.JsonPath == "$.steps[1].rationale_max_length");
        var threads = Assert.Single(e.Problems, p => p.JsonPath == "$.models.m.threads");
        Assert.Contains($"from 0 to {Environment.ProcessorCount * 4}", threads.Message);
    }

    [Fact]
    public void Lone_surrogates_and_NUL_in_any_string_or_key_are_errors()
    {
        var e = Invalid(Pipeline(
            """{ "name": "out", "type": "write_parquet", "path": "a\u0000b.parquet", "description": "\ud800" }""",
            extra: """ "\udc00key": 1,"""));
        Assert.Equal(3, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.JsonPath == "$.steps[1].path" && p.Message.Contains("NUL"));
        Assert.Contains(e.Problems, p => p.JsonPath == "$.steps[1].description" && p.Message.Contains("lone surrogate"));
        Assert.Contains(e.Problems, p => p.Line == 2 && p.Message.Contains("a key holds a lone surrogate"));
    }

    [Fact]
    public void Everything_in_a_build_block_is_checked_and_all_problems_are_reported_at_once()
    {
        var e = Invalid(Pipeline(Sink, models: """
            {
              "a": { "type": "local", "path": "models/x", "build": [] },
              "b": { "type": "local", "path": "models/y", "build": { "preset": true, "seed": "str", "colour": 1 } },
              "c": { "type": "local", "path": "models/does-not-exist" },
              "d": { "type": "openai", "model": "m", "api_key_env": "DISTIL_TEST_SURELY_UNSET_VARIABLE" },
              "e": { "type": "local", "path": "", "device": "tpu", "chat_template": "nope", "theads": 2 }
            }
            """));
        string[] expected =
        [
            "$.models.a.build", "$.models.b.build.preset", "$.models.b.build.seed", "$.models.b.build.colour",
            "$.models.c.path", "$.models.d.api_key_env", "$.models.e.path", "$.models.e.device", "$.models.e.chat_template", "$.models.e.theads",
        ];
        Assert.Equal(expected.Order(), e.Problems.Select(p => p.JsonPath!).Order());
        Assert.All(e.Problems, p => Assert.NotNull(p.Line));
        Assert.StartsWith($"{expected.Length} problems:", e.Message);
    }

    [Fact]
    public void A_garbage_cron_expression_is_rejected()
    {
        var e = Invalid(Pipeline(Sink, extra: """ "schedule": { "cron": "every tuesday-ish" },"""));
        Assert.Equal("$.schedule.cron", e.JsonPath);
        Assert.Contains("not a cron expression", e.Message);
        _ws.Define(Pipeline(Sink, extra: """ "schedule": { "cron": "0 3 * * 1-5" },"""));
    }

    [Fact]
    public void A_fan_in_of_one_branch_is_rejected()
    {
        var e = Invalid(Pipeline("""{ "name": "join", "type": "combine_columns", "columns": ["instruction"], "after": ["load"] }, """ + Sink));
        Assert.Equal("$.steps[1].after", e.JsonPath);
        Assert.Contains("at least two", e.Message);
    }

    [Fact]
    public void Empty_and_dot_dot_paths_for_models_and_sinks_are_located()
    {
        var e = Invalid(Pipeline(
            """{ "name": "out", "type": "write_parquet", "path": ".." }""",
            models: """{ "m": { "type": "local", "path": ".." }, "n": { "type": "local", "path": "" } }"""));
        Assert.Contains(e.Problems, p => p.JsonPath == "$.steps[1].path" && p.Message.Contains("must name a file"));
        Assert.Contains(e.Problems, p => p.JsonPath == "$.models.m.path" && p.Message.Contains("no model folder"));
        Assert.Contains(e.Problems, p => p.JsonPath == "$.models.n.path" && p.Message.Contains("is empty"));
    }

    [Fact]
    public void A_long_value_is_shortened_in_the_message()
    {
        var huge = new string('x', 100_000);
        var e = Invalid(Pipeline($$"""{ "name": "out", "type": "{{huge}}" }"""));
        Assert.Contains("100,000 characters", e.Message);
        Assert.True(e.Message.Length < 2_000, $"message is {e.Message.Length} characters");
    }

    [Fact]
    public void Steps_past_the_cap_are_refused_and_a_long_chain_validates_in_linear_time()
    {
        var many = string.Join(",\n", Enumerable.Range(0, 100_000).Select(i => $$"""{ "name": "s{{i}}", "type": "keep_columns", "columns": ["instruction"] }"""));
        var e = Invalid(Pipeline(many + ",\n" + Sink));
        Assert.Equal("$.steps", e.JsonPath);
        Assert.Contains("at most 10,000", e.Message);

        // 9,000 chained steps: the old graph check was quadratic here (it re-scanned every step per step).
        var chain = string.Join(",\n", Enumerable.Range(0, 9_000).Select(i => $$"""{ "name": "s{{i}}", "type": "keep_columns", "columns": ["instruction"] }"""));
        Assert.Equal(9_002, _ws.Define(Pipeline(chain + ",\n" + Sink)).Steps.Count);
    }

    [Fact]
    public async Task A_source_that_is_a_fifo_is_refused_without_opening_it()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fifo = Path.Combine(_ws.Root, "data", "pipe.jsonl");
        Assert.Equal(0, MakeFifo(fifo, Convert.ToUInt32("600", 8)));
        // Opening a FIFO nobody writes blocks forever; the timeout only turns such a hang into a failure.
        var check = Task.Run(() => Invalid(Pipeline(Sink).Replace("data/prompts.jsonl", "data/pipe.jsonl", StringComparison.Ordinal)));
        var e = await check.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("$.steps[0].path", e.JsonPath);
        Assert.Contains("FIFO", e.Message);
    }

    [Fact]
    public async Task Invalid_utf8_in_jsonl_is_reported_with_line_and_byte_offset_or_skipped_and_counted()
    {
        var bytes = new List<byte>();
        bytes.AddRange("{\"instruction\": \"ok\"}\n{\"instruction\": \"b"u8.ToArray());
        bytes.AddRange([0xC3, 0x28]);
        bytes.AddRange("d\"}\n{\"instruction\": \"last\"}\n"u8.ToArray());
        File.WriteAllBytes(Path.Combine(_ws.Root, "data", "prompts.jsonl"), bytes.ToArray());

        var failing = _ws.Define(Pipeline(Sink));
        var e = await Assert.ThrowsAsync<PipelineDefinitionException>(() => _ws.RunAsync(failing));
        Assert.Equal(2, e.Line);
        Assert.Contains("prompts.jsonl", e.Message);
        Assert.Contains("invalid UTF-8 at byte 40 of the file (byte 19 of the line)", e.Message);

        var skipping = _ws.Define(Pipeline(Sink).Replace("\"path\": \"data/prompts.jsonl\"", "\"path\": \"data/prompts.jsonl\", \"on_error\": \"skip\"", StringComparison.Ordinal));
        var manifest = await _ws.RunAsync(skipping);
        Assert.Equal(1, manifest.Steps.Single(s => s.Name == "load").Dropped["malformed_record"]);
        Assert.Equal(2, (await TestWorkspace.ReadParquetAsync(Path.Combine(_ws.Outputs, "x.parquet"))).Count);
    }

    [Fact]
    public async Task A_jsonl_line_over_the_cap_and_a_lone_surrogate_in_a_value_are_errors_for_that_line()
    {
        _ws.Write("data/prompts.jsonl", $"{{\"instruction\": \"a\"}}\n{{\"instruction\": \"{new string('y', 500)}\"}}\n{{\"instruction\": \"\\ud800\"}}\n{{\"instruction\": \"b\"}}\n");
        var capped = Pipeline(Sink).Replace("\"path\": \"data/prompts.jsonl\"", "\"path\": \"data/prompts.jsonl\", \"max_line_bytes\": 100", StringComparison.Ordinal);

        var e = await Assert.ThrowsAsync<PipelineDefinitionException>(() => _ws.RunAsync(_ws.Define(capped)));
        Assert.Equal(2, e.Line);
        Assert.Contains("longer than the 100 allowed", e.Message);

        var manifest = await _ws.RunAsync(_ws.Define(capped.Replace("\"max_line_bytes\": 100", "\"max_line_bytes\": 100, \"on_error\": \"skip\"", StringComparison.Ordinal)));
        Assert.Equal(2, manifest.Steps.Single(s => s.Name == "load").Dropped["malformed_record"]);

        var surrogate = await Assert.ThrowsAsync<PipelineDefinitionException>(() => _ws.RunAsync(_ws.Define(Pipeline(Sink)), _ws.Options(fresh: true)));
        Assert.Equal(3, surrogate.Line);
        Assert.Contains("lone surrogate", surrogate.Message);
    }

    [Fact]
    public async Task A_parquet_source_lacking_a_column_a_later_step_needs_fails_validation()
    {
        var input = Assert.Single((await _ws.RunAsync(_ws.Define(Pipeline(Sink)))).OutputFiles);
        var e = Invalid($$"""
            { "name": "pq", "steps": [
                { "name": "load", "type": "load_parquet", "path": "{{input.Replace("\\", "/", StringComparison.Ordinal)}}" },
                { "name": "keep", "type": "keep_columns", "columns": ["instruction", "response"] },
                { "name": "out", "type": "write_parquet", "path": "y.parquet" } ] }
            """);
        Assert.Equal("$.steps[1]", e.JsonPath);
        Assert.Contains("needs column 'response'", e.Message);
    }

    [Theory]
    [InlineData(0, "even an empty Parquet file has 12 or more")]
    [InlineData(1, "does not end with the Parquet marker PAR1")]
    [InlineData(2, "does not start with the Parquet marker PAR1")]
    [InlineData(3, "footer (the schema and the index of row groups) is damaged")]
    public async Task Corrupt_parquet_names_the_file_and_says_what_is_wrong_in_plain_words(int damage, string expected)
    {
        var input = Assert.Single((await _ws.RunAsync(_ws.Define(Pipeline(Sink)))).OutputFiles);
        var bytes = File.ReadAllBytes(input);
        var broken = Path.Combine(_ws.Root, "data", "broken.parquet");
        File.WriteAllBytes(broken, damage switch
        {
            0 => bytes[..5],
            1 => bytes[..(bytes.Length / 2)],
            2 => [.. "JUNK"u8, .. bytes[4..]],
            _ => [.. bytes[..^40], .. Enumerable.Repeat((byte)0xFF, 32), .. bytes[^8..]],
        });
        var e = Invalid("""
            { "name": "pq", "steps": [
                { "name": "load", "type": "load_parquet", "path": "data/broken.parquet" },
                { "name": "out", "type": "write_parquet", "path": "y.parquet" } ] }
            """);
        Assert.Contains("broken.parquet", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MakeFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);
}

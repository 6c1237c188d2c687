using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Distil.Engine.Text;
using Distil.Engine.Text.Constraints;
using Xunit.Abstractions;

namespace Distil.Engine.Tests.Text;

public sealed class JsonSchemaConstraintTests(Llama3StyleTokenizerFixture fixture, ITestOutputHelper output) : IClassFixture<Llama3StyleTokenizerFixture>
{
    private readonly ModelTokenizer _tokenizer = fixture.Tokenizer;

    /// <summary>Uniform noise the random "model" reads its logits from at a random offset each step (cheaper than drawing 100k numbers).</summary>
    private static readonly float[] Noise = MakeNoise(1 << 20);

    private static float[] MakeNoise(int length)
    {
        var random = new SeededRandom(12345);
        var noise = new float[length];
        for (var i = 0; i < noise.Length; i++)
        {
            noise[i] = (float)random.NextDouble();
        }
        return noise;
    }

    private static JsonElement Schema(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static string JudgeSchema(int n) => $$"""
        {
          "type": "object",
          "properties": {
            "ratings": { "type": "array", "items": { "type": "integer", "minimum": 1, "maximum": 5 }, "minItems": {{n}}, "maxItems": {{n}} },
            "rationales": { "type": "array", "items": { "type": "string", "maxLength": 80 }, "minItems": {{n}}, "maxItems": {{n}} }
          },
          "required": ["ratings", "rationales"]
        }
        """;

    /// <summary>
    /// A "model" that emits uniformly random logits: the constraint alone must make the output valid. Returns the
    /// decoded text and whether the constraint reached a complete document.
    /// </summary>
    private (string Text, bool Complete, int Tokens) Rollout(JsonSchemaConstraint constraint, ulong seed, int maxTokens, Stopwatch? maskClock = null)
    {
        var state = constraint.CreateState();
        var random = new SeededRandom(seed);
        var logits = new float[_tokenizer.VocabularySize];
        var ids = new List<int>();
        for (var step = 0; step < maxTokens && !state.IsComplete; step++)
        {
            Noise.AsSpan((int)(random.NextUInt64() % (ulong)(Noise.Length - logits.Length)), logits.Length).CopyTo(logits);
            maskClock?.Start();
            state.ApplyMask(logits, maxTokens - step);
            maskClock?.Stop();
            var id = Sampler.ArgMax(logits);
            if (_tokenizer.EndOfSequenceIds.Contains(id))
            {
                Assert.True(state.CanEnd);
                break;
            }
            Assert.False(_tokenizer.IsSpecial(id));
            state.Advance(id);
            ids.Add(id);
        }
        return (_tokenizer.Decode(ids.ToArray()), state.IsComplete || state.CanEnd, ids.Count);
    }

    private static void AssertJudgeDocument(string text, int n)
    {
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        Assert.Equal(["ratings", "rationales"], root.EnumerateObject().Select(p => p.Name));
        var ratings = root.GetProperty("ratings").EnumerateArray().ToList();
        Assert.Equal(n, ratings.Count);
        Assert.All(ratings, r => Assert.InRange(r.GetInt32(), 1, 5));
        var rationales = root.GetProperty("rationales").EnumerateArray().ToList();
        Assert.Equal(n, rationales.Count);
        Assert.All(rationales, r => Assert.InRange(r.GetString()!.EnumerateRunes().Count(), 0, 80));
    }

    [Fact]
    public void Judge_schema_rollouts_with_random_logits_always_parse_and_satisfy_the_schema()
    {
        var maskClock = new Stopwatch();
        var steps = 0;
        var tight = 0;
        for (var rollout = 0; rollout < 200; rollout++)
        {
            var n = 1 + rollout % 4;
            var constraint = TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(n)), _tokenizer);
            // Budgets from exactly the shortest document up to a roomy one.
            var slack = rollout % 5 == 0 ? 0 : (int)(new SeededRandom((ulong)rollout).NextUInt64() % 120);
            tight += slack == 0 ? 1 : 0;
            var (text, complete, tokens) = Rollout(constraint, (ulong)rollout, constraint.MinimumLength + slack, maskClock);
            steps += tokens;
            Assert.True(complete, $"rollout {rollout} incomplete: {text}");
            AssertJudgeDocument(text, n);
        }
        var compiled = Enumerable.Range(1, 4).Select(n => TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(n)), _tokenizer)).ToList();
        output.WriteLine($"cached masks per N=1..4: {string.Join(", ", compiled.Select(c => $"{c.CachedMasks} ({c.CachedMaskBytes / 1024} KiB)"))}");
        output.WriteLine($"{steps} constrained steps, {tight} rollouts at the minimal budget; mean ApplyMask {maskClock.Elapsed.TotalMilliseconds * 1000 / steps:F0} µs/step (includes first-time mask computation)");
    }

    [Fact]
    public void Minimal_budget_still_yields_a_complete_document_within_it()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(3)), _tokenizer);
        for (ulong seed = 0; seed < 5; seed++)
        {
            var (text, complete, tokens) = Rollout(constraint, seed, constraint.MinimumLength);
            Assert.True(complete);
            Assert.True(tokens <= constraint.MinimumLength);
            AssertJudgeDocument(text, 3);
        }
    }

    [Fact]
    public void Budget_below_the_shortest_document_follows_the_shortest_path_and_is_cut()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(2)), _tokenizer);
        var (text, complete, tokens) = Rollout(constraint, 1, 5);
        Assert.False(complete);
        Assert.Equal(5, tokens);
        Assert.StartsWith("{\"rat", text);
    }

    [Fact]
    public void Mask_time_per_step_is_reported_cold_and_warm()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"object","properties":{"note":{"type":"string","maxLength":200}},"required":["note"]}"""), _tokenizer);
        var state = constraint.CreateState();
        foreach (var id in _tokenizer.Encode("{\"note\":\"", parseSpecialTokens: false))
        {
            state.Advance(id);
        }
        var logits = new float[_tokenizer.VocabularySize];
        var clock = Stopwatch.StartNew();
        state.ApplyMask(logits, 500);
        var cold = clock.Elapsed;
        var allowed = logits.Count(l => l == 0);
        logits.AsSpan().Clear();
        clock.Restart();
        state.ApplyMask(logits, 500);
        var warm = clock.Elapsed;
        output.WriteLine($"inside a string over {_tokenizer.VocabularySize} tokens: {allowed} allowed; cold mask {cold.TotalMilliseconds:F2} ms (trie walk), warm {warm.TotalMilliseconds * 1000:F0} µs (cached)");
        Assert.InRange(allowed, 50_000, _tokenizer.VocabularySize);
    }

    private void Follow(ITokenConstraint state, string text)
    {
        var logits = new float[_tokenizer.VocabularySize];
        foreach (var id in _tokenizer.Encode(text, parseSpecialTokens: false))
        {
            logits.AsSpan().Clear();
            state.ApplyMask(logits, 10_000);
            Assert.False(float.IsNegativeInfinity(logits[id]), $"token {id} ({Encoding.UTF8.GetString(_tokenizer.TokenBytes(id))}) was masked in {text}");
            state.Advance(id);
        }
    }

    private bool Allows(ITokenConstraint state, string tokenText)
    {
        var ids = _tokenizer.Encode(tokenText, parseSpecialTokens: false);
        Assert.Single(ids);
        var logits = new float[_tokenizer.VocabularySize];
        state.ApplyMask(logits, 10_000);
        return !float.IsNegativeInfinity(logits[ids[0]]);
    }

    [Theory]
    [InlineData("\"plain\"")]
    [InlineData("\"caf\u00e9 \\\"quoted\\\" tab\\t \\\\ slash\\/\"")]
    [InlineData("\"\\u00e9\\u4e2d\\uD7FF and 日本語 🎉\"")]
    [InlineData("\"\"")]
    public void Strings_accept_escapes_and_multi_byte_characters(string json)
    {
        var state = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"string","maxLength":40}"""), _tokenizer).CreateState();
        Follow(state, json);
        Assert.True(state.IsComplete);
        Assert.Equal(JsonSerializer.Deserialize<string>(json), JsonDocument.Parse(json).RootElement.GetString());
    }

    [Theory]
    [InlineData("\"\\x\"")]
    [InlineData("\"\\uD800\"")]
    [InlineData("\"a\nb\"")]
    [InlineData("\"12345678901\"")]
    public void Strings_reject_bad_escapes_lone_surrogates_control_characters_and_overlength(string json)
    {
        var state = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"string","maxLength":10}"""), _tokenizer).CreateState();
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var b in Encoding.UTF8.GetBytes(json))
            {
                state.Advance(SingleByteToken(b));
            }
        });
    }

    [Fact]
    public void A_token_is_allowed_only_if_all_its_bytes_fit()
    {
        var state = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"string","maxLength":3}"""), _tokenizer).CreateState();
        Follow(state, "\"");
        Assert.True(Allows(state, "abc"));
        Assert.False(Allows(state, "abcd"));
        Follow(state, "ab");
        Assert.False(Allows(state, "cd"));
        Assert.True(Allows(state, "\""));
        // A lone UTF-8 continuation byte can never start a character.
        var logits = new float[_tokenizer.VocabularySize];
        state.ApplyMask(logits, 100);
        Assert.True(float.IsNegativeInfinity(logits[SingleByteToken(0x80)]));
        Assert.False(float.IsNegativeInfinity(logits[SingleByteToken(0xE6)]));
    }

    [Fact]
    public void Special_tokens_are_masked_inside_the_document_and_end_of_sequence_only_at_its_end()
    {
        var state = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"integer","minimum":0,"maximum":100}"""), _tokenizer).CreateState();
        var eot = _tokenizer.TokenId("<|eot_id|>")!.Value;
        var header = _tokenizer.TokenId("<|start_header_id|>")!.Value;
        var logits = new float[_tokenizer.VocabularySize];
        state.ApplyMask(logits, 10);
        Assert.True(float.IsNegativeInfinity(logits[eot]));
        Assert.True(float.IsNegativeInfinity(logits[header]));
        Assert.Throws<InvalidOperationException>(() => state.Advance(eot));
        Follow(state, "4");
        Assert.True(state.CanEnd);
        Assert.False(state.IsComplete);
        logits.AsSpan().Clear();
        state.ApplyMask(logits, 10);
        Assert.Equal(0, logits[eot]);
        Assert.True(float.IsNegativeInfinity(logits[header]));
        state.Advance(eot);
        Assert.True(state.IsComplete);
    }

    [Fact]
    public void Integer_bounds_are_enforced_digit_by_digit()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"integer","minimum":-12,"maximum":150}"""), _tokenizer);
        foreach (var ok in new[] { "0", "-12", "-1", "7", "99", "150", "100" })
        {
            var state = constraint.CreateState();
            foreach (var c in ok)
            {
                state.Advance(SingleByteToken((byte)c));
            }
            Assert.True(state.CanEnd, ok);
        }
        foreach (var bad in new[] { "-13", "151", "00", "-0", "1500", "200" })
        {
            var state = constraint.CreateState();
            Assert.Throws<InvalidOperationException>(() =>
            {
                foreach (var c in bad)
                {
                    state.Advance(SingleByteToken((byte)c));
                }
            });
        }
        var complete = constraint.CreateState();
        Follow(complete, "150");
        Assert.True(complete.IsComplete);
    }

    [Fact]
    public void Enum_rollouts_produce_only_listed_values()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema("""{"enum":["red","green",3,null,{"k":[1,true]}]}"""), _tokenizer);
        var seen = new HashSet<string>();
        for (ulong seed = 0; seed < 40; seed++)
        {
            var (text, complete, _) = Rollout(constraint, seed, 20);
            Assert.True(complete);
            Assert.Contains(text, new[] { "\"red\"", "\"green\"", "3", "null", "{\"k\":[1,true]}" });
            seen.Add(text);
        }
        Assert.True(seen.Count >= 3, string.Join(" ", seen));
    }

    [Fact]
    public void Nested_arrays_objects_and_type_unions_roll_out_valid()
    {
        const string schema = """
            {
              "type": "object",
              "properties": {
                "grid": { "type": "array", "items": { "type": "array", "items": { "type": "integer", "minimum": -3, "maximum": 12 }, "minItems": 1, "maxItems": 2 }, "minItems": 2, "maxItems": 3 },
                "score": { "type": "number" },
                "ok": { "type": "boolean" },
                "maybe": { "type": ["string", "null"], "maxLength": 5 },
                "meta": { "type": "object", "properties": { "tag": { "const": "x" }, "skipped": { "type": "string" } }, "required": ["tag"] }
              },
              "required": ["grid", "score", "ok", "maybe", "meta"]
            }
            """;
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema(schema), _tokenizer);
        for (ulong seed = 0; seed < 40; seed++)
        {
            var (text, complete, _) = Rollout(constraint, seed, constraint.MinimumLength + (int)(seed % 4) * 10);
            Assert.True(complete, text);
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            var grid = root.GetProperty("grid").EnumerateArray().ToList();
            Assert.InRange(grid.Count, 2, 3);
            Assert.All(grid, row => Assert.InRange(row.GetArrayLength(), 1, 2));
            Assert.All(grid.SelectMany(r => r.EnumerateArray()), v => Assert.InRange(v.GetInt32(), -3, 12));
            Assert.True(double.IsFinite(root.GetProperty("score").GetDouble()));
            Assert.True(root.GetProperty("ok").ValueKind is JsonValueKind.True or JsonValueKind.False);
            var maybe = root.GetProperty("maybe");
            Assert.True(maybe.ValueKind == JsonValueKind.Null || maybe.GetString()!.EnumerateRunes().Count() <= 5);
            Assert.Equal("{\"tag\":\"x\"}", root.GetProperty("meta").GetRawText());
        }
    }

    [Theory]
    [InlineData("{}", JsonValueKind.Undefined)]
    [InlineData("""{"description":"JSON mode"}""", JsonValueKind.Undefined)]
    [InlineData("""{"type":"object"}""", JsonValueKind.Object)]
    [InlineData("""{"type":"array","maxItems":3}""", JsonValueKind.Array)]
    public void Open_schemas_yield_any_valid_json_of_the_asked_kind(string schema, JsonValueKind kind)
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema(schema), _tokenizer);
        var kinds = new HashSet<JsonValueKind>();
        for (ulong seed = 0; seed < 30; seed++)
        {
            var (text, complete, _) = Rollout(constraint, seed, 60 + (int)(seed % 3) * 20);
            Assert.True(complete, text);
            using var document = JsonDocument.Parse(text);
            kinds.Add(document.RootElement.ValueKind);
            if (kind != JsonValueKind.Undefined)
            {
                Assert.Equal(kind, document.RootElement.ValueKind);
            }
            if (kind == JsonValueKind.Array)
            {
                Assert.InRange(document.RootElement.GetArrayLength(), 0, 3);
            }
        }
        if (kind == JsonValueKind.Undefined)
        {
            Assert.True(kinds.Count >= 2, string.Join(", ", kinds));
        }
    }

    [Fact]
    public void Free_form_object_values_follow_additional_properties()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"object","additionalProperties":{"type":"integer","minimum":1,"maximum":5}}"""), _tokenizer);
        for (ulong seed = 0; seed < 15; seed++)
        {
            var (text, complete, _) = Rollout(constraint, seed, 40);
            Assert.True(complete, text);
            using var document = JsonDocument.Parse(text);
            Assert.All(document.RootElement.EnumerateObject(), p => Assert.InRange(p.Value.GetInt32(), 1, 5));
        }
        var closed = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"object","additionalProperties":false}"""), _tokenizer);
        Assert.Equal("{}", Rollout(closed, 1, 10).Text);
    }

    [Fact]
    public void Json_mode_accepts_nested_free_form_documents_and_nothing_after_them()
    {
        var state = TokenConstraintCompiler.ForJsonSchema(Schema("{}"), _tokenizer).CreateState();
        Follow(state, "{\"a\":[1,{\"b\":null},-2.5e3],\"c\":\"x\",\"d\":{}}");
        Assert.True(state.IsComplete);
        var spaced = TokenConstraintCompiler.ForJsonSchema(Schema("{}"), _tokenizer).CreateState();
        Follow(spaced, "{");
        Assert.False(Allows(spaced, " "));
        Assert.True(Allows(spaced, "\""));
        Assert.True(Allows(spaced, "}"));
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string","pattern":"x+"}},"required":["a"]}""", "$.properties.a.pattern", "pattern")]
    [InlineData("""{"type":"array","items":{"$ref":"#/defs/x"}}""", "$.items.$ref", "$ref")]
    [InlineData("""{"type":"number","minimum":0}""", "$.minimum", "minimum")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}""", "$.required", "\"b\"")]
    [InlineData("""{"anyOf":[{"type":"integer"},{"type":"number"}]}""", "$.anyOf", "begin differently")]
    [InlineData("""{"minimum":3}""", "$", "give the value a type")]
    [InlineData("""{"type":"string","maxLength":2,"minLength":3}""", "$", "maxLength")]
    public void Unsupported_or_contradictory_schemas_are_refused_naming_the_keyword(string schema, string path, string mention)
    {
        var error = Assert.Throws<JsonSchemaNotSupportedException>(() => TokenConstraintCompiler.ForJsonSchema(Schema(schema), _tokenizer));
        Assert.Equal(path, error.SchemaPath);
        Assert.Contains(mention, error.Message);
    }

    [Fact]
    public void Compiled_constraints_are_cached_by_schema_text()
    {
        var a = TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(2)), _tokenizer);
        var b = TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(2)), _tokenizer);
        var c = TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(3)), _tokenizer);
        Assert.Same(a, b);
        Assert.NotSame(a, c);
    }

    [Fact]
    public void Positions_in_an_unbounded_string_share_one_cached_mask()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema("""{"type":"object","properties":{"essay":{"type":"string"}},"required":["essay"]}"""), _tokenizer);
        var state = constraint.CreateState();
        Follow(state, "{\"essay\":\"" + string.Concat(Enumerable.Repeat("All work and no play. ", 20)));
        // Start, after the opening literal pieces, then one shared mask for the string's content.
        Assert.InRange(constraint.CachedMasks, 1, 8);
        Follow(state, "\"}");
        Assert.True(state.IsComplete);
    }

    [Fact]
    public void Minimum_length_is_the_shortest_valid_document()
    {
        var constraint = TokenConstraintCompiler.ForJsonSchema(Schema(JudgeSchema(2)), _tokenizer);
        Assert.Equal("{\"ratings\":[1,1],\"rationales\":[\"\",\"\"]}".Length, constraint.MinimumLength);
    }

    private int SingleByteToken(byte b)
    {
        for (var id = 0; id < _tokenizer.VocabularySize; id++)
        {
            var bytes = _tokenizer.TokenByteSpan(id);
            if (bytes.Length == 1 && bytes[0] == b)
            {
                return id;
            }
        }
        throw new InvalidOperationException($"no token for byte {b}");
    }
}

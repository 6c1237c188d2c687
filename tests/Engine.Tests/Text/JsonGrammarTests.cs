using System.Text;
using System.Text.Json;
using Distil.Engine.Text.Constraints;

namespace Distil.Engine.Tests.Text;

/// <summary>
/// The byte-level matcher on its own, one grammar kind at a time: whole documents it must accept (every byte fed
/// and nothing left to finish) or refuse.
/// </summary>
public sealed class JsonGrammarTests
{
    private static bool Accepts(string schema, string document)
    {
        using var parsed = JsonDocument.Parse(schema);
        var grammar = JsonSchemaCompiler.Compile(parsed.RootElement);
        var stack = new GrammarFrame[grammar.MaxFrames];
        stack[0] = new GrammarFrame(grammar.Root);
        var depth = 1;
        foreach (var b in Encoding.UTF8.GetBytes(document))
        {
            if (!grammar.Feed(stack, ref depth, b))
            {
                return false;
            }
        }
        return grammar.Need(stack.AsSpan(0, depth)) == 0;
    }

    private const string NumberSchema = """{"type":"number"}""";

    [Theory]
    [InlineData("0")]
    [InlineData("-0")]
    [InlineData("12.5")]
    [InlineData("0.0")]
    [InlineData("1e5")]
    [InlineData("1E+05")]
    [InlineData("-2.5e-3")]
    [InlineData("123456789012345")]
    public void Numbers_accept_signs_fractions_and_exponents(string json) => Assert.True(Accepts(NumberSchema, json), json);

    [Theory]
    [InlineData("01")]
    [InlineData("1.")]
    [InlineData(".5")]
    [InlineData("+1")]
    [InlineData("-")]
    [InlineData("1e")]
    [InlineData("1e+")]
    [InlineData("1e123")]
    [InlineData("1234567890123456")]
    public void Numbers_refuse_leading_zeros_bare_signs_and_unbounded_digits(string json) => Assert.False(Accepts(NumberSchema, json), json);

    private const string ObjectsInArray = """
        {"type":"array","minItems":1,"maxItems":2,
         "items":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a","b"]}}
        """;

    [Theory]
    [InlineData("""[{"a":1,"b":""}]""", true)]
    [InlineData("""[{"a":1,"b":"x"},{"a":-20,"b":"\\n"}]""", true)]
    [InlineData("""[]""", false)]
    [InlineData("""[{"a":1,"b":""},{"a":2,"b":""},{"a":3,"b":""}]""", false)]
    [InlineData("""[{"a":1,"b":""},]""", false)]
    [InlineData("""[{"b":"","a":1}]""", false)]
    [InlineData("""[{"a":1}]""", false)]
    public void Arrays_of_objects_keep_item_counts_and_property_order(string json, bool valid) => Assert.Equal(valid, Accepts(ObjectsInArray, json));

    [Theory]
    [InlineData("[]", true)]
    [InlineData("[[],[true,false],[null]]", true)]
    [InlineData("[[true,]]", false)]
    [InlineData("[[1]]", false)]
    [InlineData("[[true]", false)]
    public void Nested_arrays_close_in_order(string json, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":"array","items":{"type":"array","items":{"type":["boolean","null"]}}}""", json));

    [Theory]
    [InlineData("\"a\"", true)]
    [InlineData("\"ab\"", true)]
    [InlineData("1", true)]
    [InlineData("12", true)]
    [InlineData("null", true)]
    [InlineData("\"b\"", false)]
    [InlineData("123", false)]
    [InlineData("nul", false)]
    [InlineData("\"a", false)]
    public void Enum_literals_that_prefix_each_other_are_told_apart(string json, bool valid) =>
        Assert.Equal(valid, Accepts("""{"enum":["a","ab",1,12,null]}""", json));

    [Theory]
    [InlineData("[1,12,1]", true)]
    [InlineData("[12]", true)]
    [InlineData("[123]", false)]
    [InlineData("[1 ]", false)]
    public void A_literal_ends_where_the_enclosing_array_goes_on(string json, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":"array","items":{"enum":[1,12]}}""", json));

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"a":1,"b\"":-2}""", true)]
    [InlineData("""{"a":1,}""", false)]
    [InlineData("""{"a"}""", false)]
    [InlineData("""{,}""", false)]
    [InlineData("""{"a":"1"}""", false)]
    public void Free_form_objects_alternate_keys_and_values(string json, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":"object","additionalProperties":{"type":"integer"}}""", json));

    [Theory]
    [InlineData("5", true)]
    [InlineData("-5", true)]
    [InlineData("\"x\"", true)]
    [InlineData("null", true)]
    [InlineData("true", false)]
    [InlineData("[]", false)]
    public void Type_unions_pick_the_alternative_by_first_byte(string json, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":["integer","string","null"]}""", json));

    [Theory]
    [InlineData("\"\\u00e9\\u0041\"", true)]
    [InlineData("\"\\uDC00\"", false)]
    [InlineData("\"\\u00G0\"", false)]
    [InlineData("\"ab\"", true)]
    [InlineData("\"abc\"", false)]
    [InlineData("\"é\"", true)]
    public void Strings_count_escapes_and_multi_byte_characters_as_one(string json, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":"string","maxLength":2}""", json));
}

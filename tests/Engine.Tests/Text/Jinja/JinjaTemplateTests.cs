using System.Text.Json;
using Distil.Engine.Text.Jinja;

namespace Distil.Engine.Tests.Text.Jinja;

/// <summary>The interpreter on its own: Jinja semantics (Python's, as transformers renders), whitespace control, errors.</summary>
public sealed class JinjaTemplateTests
{
    private static string Render(string template, object? variables = null)
    {
        var values = new Dictionary<string, object?>();
        if (variables is not null)
        {
            using var json = JsonDocument.Parse(JsonSerializer.Serialize(variables));
            foreach (var property in json.RootElement.EnumerateObject())
            {
                values[property.Name] = property.Value.Clone();
            }
        }
        return JinjaTemplate.Parse(template, "test.jinja").Render(values);
    }

    [Theory]
    [InlineData("{{ [1, 2, 3][::-1] }}", "[3, 2, 1]")]
    [InlineData("{{ 'abcdef'[1:4] }}|{{ 'abcdef'[::2] }}|{{ 'abc'[-1] }}", "bcd|ace|c")]
    [InlineData("{{ [1, 2, 3, 4][1:] }}{{ [1, 2, 3, 4][:-1] }}{{ [1, 2, 3, 4][-2:] }}", "[2, 3, 4][1, 2, 3][3, 4]")]
    [InlineData("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1.0 }} {{ 0.00001 * 1 }}", "3 -4 1 2 3.5 1024 1.0 1e-05")]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true }}", "a1NoneTrue")]
    [InlineData("{{ 'yes' if 1 > 0 else 'no' }} {{ 'x' if false }}|", "yes |")]
    [InlineData("{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }}", "True False True")]
    [InlineData("{{ not 1 == 2 and 3 >= 3 or false }}", "True")]
    public void Evaluates_expressions_as_python_jinja(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Whitespace_control_and_trim_and_lstrip_blocks_follow_transformers_settings()
    {
        var template = "<ul>\n    {% for x in items %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>\n";
        Assert.Equal("<ul>\n    <li>a</li>\n    <li>b</li>\n</ul>", Render(template, new { items = new[] { "a", "b" } }));
        Assert.Equal("a|b", Render("a  \n {{- '|' -}} \n  b"));
        Assert.Equal("ab", Render("a {#- comment -#} b"));
        Assert.Equal("x", Render("x{# c #}\n\n"));
        Assert.Equal("x\n", Render("x{{ '' }}\n\n"));
    }

    [Fact]
    public void Loops_expose_loop_variables_filter_and_else()
    {
        Assert.Equal("1/3a,2/3b,3/3c.", Render("{% for x in xs %}{{ loop.index }}/{{ loop.length }}{{ x }}{{ ',' if not loop.last else '.' }}{% endfor %}", new { xs = new[] { "a", "b", "c" } }));
        Assert.Equal("0:b 1:c ", Render("{% for x in xs if x != 'a' %}{{ loop.index0 }}:{{ x }} {% endfor %}", new { xs = new[] { "a", "b", "c" } }));
        Assert.Equal("empty", Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("k=1;j=2;", Render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", new { d = new Dictionary<string, int> { ["k"] = 1, ["j"] = 2 } }));
        Assert.Equal("1", Render("{% for x in [1, 2, 3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
    }

    [Fact]
    public void Set_inside_a_loop_stays_in_the_loop_but_namespaces_carry_state_out()
    {
        Assert.Equal("0", Render("{% set n = 0 %}{% for x in [1, 2] %}{% set n = n + x %}{% endfor %}{{ n }}"));
        Assert.Equal("3", Render("{% set ns = namespace(n=0) %}{% for x in [1, 2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"));
        Assert.Equal("[HI]", Render("{% set x %}hi{% endset %}{% filter upper %}[{{ x }}]{% endfilter %}"));
    }

    [Fact]
    public void Macros_take_positional_keyword_and_default_arguments()
    {
        Assert.Equal("<a|b><c|z>", Render("{% macro tag(x, y='z') %}<{{ x }}|{{ y }}>{% endmacro %}{{ tag('a', 'b') }}{{ tag(x='c') }}"));
    }

    [Theory]
    [InlineData("{{ '  hi  ' | trim }}|{{ '\\n\\n x \\n'.strip('\\n') }}|{{ 'xxhixx'.lstrip('x') }}|{{ 'hi  '.rstrip() }}", "hi| x |hixx|hi")]
    [InlineData("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a-b-c'.split('-', 1) }}", "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b-c']")]
    [InlineData("{{ 'hello world'|title }} {{ 'hELLO'|capitalize }} {{ 'Ab'|upper }}{{ 'Ab'|lower }}", "Hello World Hello ABab")]
    [InlineData("{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'aaa'|replace('a', 'c') }}", "True True bba ccc")]
    [InlineData("{{ [3, 1, 2]|sort|join(',') }} {{ [1, 2]|first }}{{ [1, 2]|last }} {{ 'héllo'|length }} {{ [1, 2, 1]|unique|list }} {{ [1, 2]|reverse|list }}", "1,2,3 12 5 [1, 2] [2, 1]")]
    [InlineData("{{ x|default('d') }} {{ ''|default('e', true) }} {{ '42'|int + 1 }} {{ 'x'|int }} {{ 3.9|int }} {{ 5|string ~ '!' }}", "d e 43 0 3 5!")]
    [InlineData("{{ {'b': 1, 'a': [1, 'x', none]}|tojson }}", "{\"b\": 1, \"a\": [1, \"x\", null]}")]
    [InlineData("{{ {'a': {}, 'b': [1, {'c': 'é\\n'}]}|tojson(indent=2) }}", "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"c\": \"é\\n\"\n    }\n  ]\n}")]
    [InlineData("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ 'é'|tojson(ensure_ascii=true) }}", "{\"a\": 2, \"b\": 1} \"\\u00e9\"")]
    [InlineData("{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b', 2) }} {{ {'a': 1}.keys()|list }} {{ {'a': 1}.values()|list }} {{ {'a': 1}|items|list }}", "1 2 ['a'] [1] [['a', 1]]")]
    public void Filters_and_methods_behave_as_in_python(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Selectattr_rejectattr_and_map_pick_by_attribute()
    {
        var messages = new[] { new { role = "user", n = 1 }, new { role = "assistant", n = 2 }, new { role = "user", n = 3 } };
        Assert.Equal("1,3", Render("{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='n')|join(',') }}", new { messages }));
        Assert.Equal("2", Render("{{ messages|rejectattr('role', 'equalto', 'user')|map(attribute='n')|join(',') }}", new { messages }));
        Assert.Equal("USER,ASSISTANT,USER", Render("{{ messages|map(attribute='role')|map('upper')|join(',') }}", new { messages }));
        Assert.Equal("3", Render("{{ messages|selectattr('missing', 'undefined')|list|length }}", new { messages }));
    }

    [Theory]
    [InlineData("{{ x is defined }}{{ y is not defined }}{{ none is none }}{{ 's' is string }}{{ {} is mapping }}{{ [] is iterable }}", "TrueTrueTrueTrueTrueTrue")]
    [InlineData("{{ 1 is number }}{{ 1.5 is number }}{{ 's' is number }}{{ 's' is sequence }}{{ true is true }}{{ false is false }}{{ 0 is false }}", "TrueTrueFalseTrueTrueTrueFalse")]
    [InlineData("{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 'a' is equalto 'a' }}{{ 2 is in [1, 2] }}", "TrueTrueTrueTrueTrue")]
    public void Tests_answer_like_jinja(string template, string expected) =>
        Assert.Equal(expected, Render(template, new { x = 1 }));

    [Fact]
    public void Strftime_now_and_extra_variables_come_from_the_caller()
    {
        var template = JinjaTemplate.Parse("{{ strftime_now('%d %b %Y') }} {{ enable_thinking }}", "t.jinja");
        var text = template.Render(new Dictionary<string, object?>
        {
            ["strftime_now"] = (Func<IReadOnlyList<object?>, object?>)(args => "05 Dec 2026 " + args[0]),
            ["enable_thinking"] = false,
        });
        Assert.Equal("05 Dec 2026 %d %b %Y False", text);
    }

    [Fact]
    public void Raise_exception_text_is_reported_as_is_with_its_position()
    {
        var error = Assert.Throws<JinjaTemplateException>(() => Render("line one\n  {{ raise_exception('Conversation roles must alternate!') }}"));
        Assert.Equal("Conversation roles must alternate!", error.Reason);
        Assert.Equal((2, 6), (error.Line, error.Column));
        Assert.Equal("test.jinja:2:6: Conversation roles must alternate!", error.Message);
    }

    [Theory]
    [InlineData("{% if x %}never closed", 1, 1, "'if' block is never closed")]
    [InlineData("ok\n{{ x + }}", 2, 8, "unexpected '}}'")]
    [InlineData("{% endfor %}", 1, 4, "unexpected 'endfor'")]
    [InlineData("a\n\n  {% frobnicate %}", 3, 3, "unknown statement 'frobnicate'")]
    [InlineData("{{ 'open }}", 1, 4, "string literal is never closed")]
    [InlineData("{{ x | nosuchfilter }}", 1, 8, "no filter named 'nosuchfilter'")]
    [InlineData("{{ undefined_thing.attr }}", 1, 4, "'undefined_thing' is undefined")]
    [InlineData("{{ 'a' + 1 }}", 1, 8, "unsupported operand type(s) for +: 'str' and 'int'")]
    public void Bad_templates_name_the_line_column_and_reason(string template, int line, int column, string reason)
    {
        var error = Assert.Throws<JinjaTemplateException>(() => Render(template));
        Assert.Equal("test.jinja", error.TemplateSource);
        Assert.Contains(reason, error.Reason, StringComparison.Ordinal);
        Assert.Equal((line, column), (error.Line, error.Column));
    }
}

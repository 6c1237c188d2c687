using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine.Tests.Support;
using Distil.Engine.Text;
using Distil.Engine.Text.Jinja;
using Distil.Engine.Text.Tokenizers;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests.Text.Jinja;

/// <summary>How a model folder's own template is found, fed (tools, tool calls, kwargs) and reported when broken.</summary>
public sealed class ModelChatTemplateTests
{
    private const string Echo = "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ '+' if add_generation_prompt }}";

    [Fact]
    public void Chat_template_jinja_beside_the_config_wins_over_the_config_field()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", JsonSerializer.Serialize(new { chat_template = "from config", bos_token = "<s>" }));
        folder.Write("chat_template.jinja", Echo + "\n");
        var template = ChatTemplates.ForModel(folder.Path, null);
        Assert.Equal("<s>[user:Hi]+", template.Render([new(ChatRole.User, "Hi")], true));
        Assert.EndsWith("chat_template.jinja", template.Name);
    }

    [Fact]
    public void Named_templates_use_default_and_tool_use_when_tools_are_offered()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", JsonSerializer.Serialize(new
        {
            chat_template = new[]
            {
                new { name = "default", template = "plain:{{ messages|length }}" },
                new { name = "tool_use", template = "tools:{{ tools|map(attribute='function')|map(attribute='name')|join(',') }}" },
            },
        }));
        var template = ChatTemplates.ForModel(folder.Path, null);
        ChatMessage[] messages = [new(ChatRole.User, "Hi")];
        Assert.Equal("plain:1", template.Render(messages, true));
        Assert.Equal("tools:add", template.Render(messages, true, [AIFunctionFactory.Create((int a, int b) => a + b, "add")]));
    }

    [Fact]
    public void A_list_without_a_default_template_is_refused_naming_the_file()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", """{ "chat_template": [{ "name": "tool_use", "template": "x" }] }""");
        var error = Assert.Throws<TokenizerFormatException>(() => ChatTemplates.ForModel(folder.Path, null));
        Assert.EndsWith("tokenizer_config.json", error.File);
        Assert.Contains("\"default\"", error.Reason);
    }

    [Fact]
    public void The_override_may_be_a_built_in_name_or_a_template_file()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", JsonSerializer.Serialize(new { chat_template = "own", bos_token = "<b>" }));
        folder.Write("custom.jinja", Echo);
        Assert.Equal("chatml", ChatTemplates.ForModel(folder.Path, "chatml").Name);
        Assert.Equal("<b>[user:x]+", ChatTemplates.ForModel(folder.Path, Path.Combine(folder.Path, "custom.jinja")).Render([new(ChatRole.User, "x")], true));
        var error = Assert.Throws<ArgumentException>(() => ChatTemplates.ForModel(folder.Path, "no-such-template"));
        Assert.Contains("llama3, chatml, falcon", error.Message);
    }

    [Fact]
    public void Chat_template_kwargs_reach_the_template()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", JsonSerializer.Serialize(new { chat_template = "{{ 'think' if enable_thinking is not defined or enable_thinking else 'no-think' }}" }));
        using var kwargs = JsonDocument.Parse("""{ "enable_thinking": false }""");
        var variables = kwargs.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        Assert.Equal("think", ChatTemplates.ForModel(folder.Path, null).Render([new(ChatRole.User, "x")], true));
        Assert.Equal("no-think", ChatTemplates.ForModel(folder.Path, null, variables).Render([new(ChatRole.User, "x")], true));
    }

    [Fact]
    public void A_template_that_does_not_parse_is_reported_with_file_line_and_column()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", JsonSerializer.Serialize(new { chat_template = "{% for m in messages %}\n{{ m.content }\n{% endfor %}" }));
        var error = Assert.Throws<JinjaTemplateException>(() => ChatTemplates.ForModel(folder.Path, null));
        Assert.StartsWith(Path.Combine(folder.Path, "tokenizer_config.json") + " (chat_template):2:", error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Raise_exception_in_the_models_template_surfaces_its_own_text()
    {
        using var folder = new TempModelFolder();
        folder.Write("chat_template.jinja", "{% if messages[0].role == 'system' %}\n  {{ raise_exception('System role not supported') }}\n{% endif %}ok");
        var template = ChatTemplates.ForModel(folder.Path, null);
        var error = Assert.Throws<JinjaTemplateException>(() => template.Render([new(ChatRole.System, "s"), new(ChatRole.User, "u")], true));
        Assert.Equal("System role not supported", error.Reason);
        Assert.Equal($"{Path.Combine(folder.Path, "chat_template.jinja")}:2:6: System role not supported", error.Message);
    }

    [Fact]
    public void Strftime_now_formats_the_clock_like_python()
    {
        var at = new DateTime(2026, 3, 7, 9, 5, 0);
        Assert.Equal("07 Mar 2026", JinjaChatTemplate.Strftime(at, "%d %b %Y"));
        Assert.Equal("March 7, 2026 09:05 %", JinjaChatTemplate.Strftime(at, "%B %-d, %Y %H:%M %%"));
    }

    /// <summary>
    /// Microsoft.Extensions.AI messages (text, tool calls, tool results, AIFunction tools) become transformers-style
    /// dicts; Qwen3's own template then renders them exactly as @huggingface/jinja renders the same dicts written by hand.
    /// </summary>
    [Fact]
    public void Tool_calls_and_results_follow_transformers_conventions_and_match_the_peer()
    {
        var (text, source, _) = ChatTemplateConformanceTests.Family("qwen3");
        var template = new JinjaChatTemplate(text, source, null, "<|im_end|>");
        var weather = AIFunctionFactory.Create((string city) => "sunny", "get_weather", "Get the weather for a city");
        ChatMessage[] messages =
        [
            new(ChatRole.System, "Use tools."),
            new(ChatRole.User, "Weather in Paris and Oslo?"),
            new(ChatRole.Assistant, [new TextContent("Checking."), new FunctionCallContent("call00001", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" }), new FunctionCallContent("call00002", "get_weather", new Dictionary<string, object?> { ["city"] = "Oslo" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call00001", "sunny, 24 °C"), new FunctionResultContent("call00002", new Dictionary<string, object?> { ["sky"] = "rain", ["temp"] = 6 })]),
        ];
        var distil = template.Render(messages, addGenerationPrompt: true, [weather]);

        var handWritten = new JsonObject
        {
            ["messages"] = JsonNode.Parse("""
                [
                  { "role": "system", "content": "Use tools." },
                  { "role": "user", "content": "Weather in Paris and Oslo?" },
                  { "role": "assistant", "content": "Checking.", "tool_calls": [
                      { "id": "call00001", "type": "function", "function": { "name": "get_weather", "arguments": { "city": "Paris" } } },
                      { "id": "call00002", "type": "function", "function": { "name": "get_weather", "arguments": { "city": "Oslo" } } } ] },
                  { "role": "tool", "tool_call_id": "call00001", "content": "sunny, 24 °C" },
                  { "role": "tool", "tool_call_id": "call00002", "content": "{\"sky\":\"rain\",\"temp\":6}" }
                ]
                """),
            ["tools"] = new JsonArray(new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = "get_weather",
                    ["description"] = "Get the weather for a city",
                    ["parameters"] = JsonNode.Parse(weather.JsonSchema.GetRawText()),
                },
            }),
            ["add_generation_prompt"] = true,
            ["eos_token"] = "<|im_end|>",
        };
        var peer = JinjaPeer.Render([(text, handWritten)])[0];
        Assert.Null(peer.Error);
        Assert.Equal(peer.Output, distil);
        Assert.Contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>", distil);
        Assert.Contains("<tool_response>\n{\"sky\":\"rain\",\"temp\":6}\n</tool_response>", distil);
    }
}

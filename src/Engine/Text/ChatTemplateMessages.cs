using System.Text.Json;
using Distil.Engine.Text.Jinja;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>
/// Conversations and tools in the shape transformers hands chat templates: <c>{"role", "content"}</c> messages;
/// an assistant's calls as <c>tool_calls: [{"id", "type": "function", "function": {"name", "arguments": {…}}}]</c>;
/// each tool result as its own <c>{"role": "tool", "tool_call_id", "content"}</c> message; reasoning as
/// <c>reasoning_content</c>; tools as <c>{"type": "function", "function": {"name", "description", "parameters"}}</c>.
/// </summary>
internal static class ChatTemplateMessages
{
    // Compact JSON for tool arguments and non-string results: the indented default would put newlines into prompts.
    private static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    public static List<object?> Messages(IReadOnlyList<ChatMessage> messages)
    {
        var result = new List<object?>(messages.Count);
        foreach (var message in messages)
        {
            var results = message.Contents.OfType<FunctionResultContent>().ToList();
            if (results.Count > 0)
            {
                result.AddRange(results.Select(ToolResult));
                continue;
            }
            var dict = JinjaValue.NewDict();
            dict["role"] = message.Role.Value;
            dict["content"] = string.Concat(message.Contents.OfType<TextContent>().Select(t => t.Text));
            var reasoning = string.Concat(message.Contents.OfType<TextReasoningContent>().Select(t => t.Text));
            if (reasoning.Length > 0)
            {
                dict["reasoning_content"] = reasoning;
            }
            var calls = message.Contents.OfType<FunctionCallContent>().ToList();
            if (calls.Count > 0)
            {
                dict["tool_calls"] = calls.Select(ToolCall).ToList();
            }
            result.Add(dict);
        }
        return result;
    }

    public static List<object?> Tools(IEnumerable<AITool> tools) => tools.OfType<AIFunctionDeclaration>().Select(tool =>
    {
        var function = JinjaValue.NewDict();
        function["name"] = tool.Name;
        function["description"] = tool.Description;
        function["parameters"] = JinjaValue.FromJson(tool.JsonSchema);
        var dict = JinjaValue.NewDict();
        dict["type"] = "function";
        dict["function"] = function;
        return (object?)dict;
    }).ToList();

    private static object? ToolCall(FunctionCallContent call)
    {
        var function = JinjaValue.NewDict();
        function["name"] = call.Name;
        function["arguments"] = JinjaValue.FromJson(JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, object?>(), Compact));
        var dict = JinjaValue.NewDict();
        dict["id"] = call.CallId;
        dict["type"] = "function";
        dict["function"] = function;
        return dict;
    }

    private static object? ToolResult(FunctionResultContent result)
    {
        var dict = JinjaValue.NewDict();
        dict["role"] = "tool";
        dict["tool_call_id"] = result.CallId;
        dict["content"] = result.Result switch
        {
            null => "",
            string text => text,
            JsonElement { ValueKind: JsonValueKind.String } text => text.GetString(),
            var other => JsonSerializer.Serialize(other, Compact),
        };
        return dict;
    }
}

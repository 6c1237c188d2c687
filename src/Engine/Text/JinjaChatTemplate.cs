using System.Globalization;
using System.Text;
using System.Text.Json;
using Distil.Engine.Text.Jinja;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Text;

/// <summary>
/// A model's own Jinja chat template, rendered as transformers' <c>apply_chat_template</c> does: variables
/// <c>messages</c>, <c>tools</c> (none without tools), <c>documents</c> (none), <c>add_generation_prompt</c>,
/// <c>bos_token</c>, <c>eos_token</c>, the <c>strftime_now</c> and <c>raise_exception</c> functions, and the extra
/// variables a pipeline sets per model (<c>chat_template_kwargs</c>). A folder may ship a second template for tool use.
/// </summary>
public sealed class JinjaChatTemplate : IChatTemplate
{
    private readonly JinjaTemplate _default;
    private readonly JinjaTemplate? _toolUse;
    private readonly IReadOnlyDictionary<string, object?> _fixed;
    private readonly TimeProvider _clock;

    /// <summary>Parses the template(s).</summary>
    /// <param name="source">Names the template in errors (file path, or file plus field).</param>
    /// <param name="extraVariables">Extra variables (JSON values), e.g. <c>{"enable_thinking": false}</c>.</param>
    /// <exception cref="JinjaTemplateException">A template does not parse.</exception>
    public JinjaChatTemplate(string template, string source, string? bosToken, string? eosToken,
        IReadOnlyDictionary<string, JsonElement>? extraVariables = null, string? toolUseTemplate = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(source);
        _default = JinjaTemplate.Parse(template, source);
        _toolUse = toolUseTemplate is null ? null : JinjaTemplate.Parse(toolUseTemplate, source + " (tool_use)");
        _clock = clock ?? TimeProvider.System;
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["bos_token"] = bosToken,
            ["eos_token"] = eosToken,
            ["documents"] = null,
        };
        foreach (var (name, value) in extraVariables ?? new Dictionary<string, JsonElement>())
        {
            variables[name] = JinjaValue.FromJson(value);
        }
        _fixed = variables;
        Source = source;
    }

    /// <summary>Where the template came from.</summary>
    public string Source { get; }

    public string Name => Source;

    /// <exception cref="JinjaTemplateException">Rendering failed, e.g. the template's own <c>raise_exception</c>.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IList<AITool>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var variables = new Dictionary<string, object?>(_fixed, StringComparer.Ordinal)
        {
            ["messages"] = ChatTemplateMessages.Messages(messages),
            ["tools"] = tools is { Count: > 0 } ? ChatTemplateMessages.Tools(tools) : null,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["strftime_now"] = (Func<IReadOnlyList<object?>, object?>)(args => Strftime(_clock.GetLocalNow().DateTime, args.Count > 0 ? args[0] as string ?? "" : "")),
        };
        var template = tools is { Count: > 0 } && _toolUse is not null ? _toolUse : _default;
        return template.Render(variables);
    }

    /// <summary>Python's <c>datetime.now().strftime(format)</c> for the codes chat templates use.</summary>
    internal static string Strftime(DateTime now, string format)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length)
            {
                text.Append(format[i]);
                continue;
            }
            var code = format[++i];
            var noPad = code == '-' && i + 1 < format.Length;
            if (noPad)
            {
                code = format[++i];
            }
            text.Append(code switch
            {
                'Y' => now.ToString("yyyy", c),
                'y' => now.ToString("yy", c),
                'm' => noPad ? now.Month.ToString(c) : now.ToString("MM", c),
                'd' => noPad ? now.Day.ToString(c) : now.ToString("dd", c),
                'b' => now.ToString("MMM", c),
                'B' => now.ToString("MMMM", c),
                'a' => now.ToString("ddd", c),
                'A' => now.ToString("dddd", c),
                'H' => now.ToString("HH", c),
                'I' => now.ToString("hh", c),
                'M' => now.ToString("mm", c),
                'S' => now.ToString("ss", c),
                'p' => now.ToString("tt", c),
                'j' => now.DayOfYear.ToString("000", c),
                '%' => "%",
                _ => "%" + code,
            });
        }
        return text.ToString();
    }
}

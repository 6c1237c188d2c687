using System.Text.Json;

namespace Distil.Engine.Text.Jinja;

/// <summary>
/// A parsed Jinja template (the subset Hugging Face chat templates use; see docs/engine-text.md). Parse once, render
/// many times; rendering is thread-safe. Variables are JSON values or the plain .NET values described on
/// <see cref="JinjaValue"/>; functions are <see cref="Func{T, TResult}"/> of the positional arguments.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly IReadOnlyList<Node> _body;

    private JinjaTemplate(IReadOnlyList<Node> body, string source)
    {
        _body = body;
        Source = source;
    }

    /// <summary>Where the text came from, named in every error.</summary>
    public string Source { get; }

    /// <summary>Parses <paramref name="text"/>; <paramref name="source"/> names it in errors (a file path, or file + field).</summary>
    /// <exception cref="JinjaTemplateException">The text does not parse; the error gives line and column.</exception>
    public static JinjaTemplate Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaTemplate(JinjaParser.Parse(text, source), source);
    }

    /// <summary>Renders with <paramref name="variables"/> (JSON elements, strings, numbers, bools, lists, dictionaries, functions).</summary>
    /// <exception cref="JinjaTemplateException">Rendering failed (including the template's own <c>raise_exception</c>).</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in variables)
        {
            values[name] = ToValue(value);
        }
        try
        {
            return new JinjaRenderer(values).Render(_body);
        }
        catch (JinjaRuntimeError e)
        {
            var at = e.Position ?? new TextPosition(1, 1);
            throw new JinjaTemplateException(Source, at.Line, at.Column, e.Message, e);
        }
        catch (InsufficientExecutionStackException e)
        {
            throw new JinjaTemplateException(Source, 1, 1, "template recursion is too deep", e);
        }
    }

    /// <summary>A .NET value as a template value.</summary>
    internal static object? ToValue(object? value) => value switch
    {
        null or bool or long or double or string or JinjaUndefined or JinjaNamespace or JinjaCallable => value,
        int i => (long)i,
        float f => (double)f,
        decimal m => (double)m,
        JsonElement json => JinjaValue.FromJson(json),
        OrderedDictionary<string, object?> dict => dict,
        List<object?> list => list,
        Func<IReadOnlyList<object?>, object?> function => new JinjaCallable("function", (p, _) => ToValue(function(p))),
        IEnumerable<KeyValuePair<string, object?>> pairs => pairs.Aggregate(JinjaValue.NewDict(), (d, p) => { d[p.Key] = ToValue(p.Value); return d; }),
        System.Collections.IEnumerable items => items.Cast<object?>().Select(ToValue).ToList(),
        _ => throw new ArgumentException($"a {value.GetType().Name} cannot be passed to a template"),
    };
}

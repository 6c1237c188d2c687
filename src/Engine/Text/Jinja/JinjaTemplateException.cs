namespace Distil.Engine.Text.Jinja;

/// <summary>
/// A chat template that does not parse or fails while rendering. <see cref="Exception.Message"/> reads
/// <c>file:line:column: reason</c>; a template's own <c>raise_exception("…")</c> text is the <see cref="Reason"/> as is.
/// </summary>
public sealed class JinjaTemplateException(string source, int line, int column, string reason, Exception? inner = null)
    : Exception($"{source}:{line}:{column}: {reason}", inner)
{
    /// <summary>Where the template came from: a file path, or a name such as <c>tokenizer_config.json chat_template</c>.</summary>
    public string TemplateSource { get; } = source;

    /// <summary>1-based line in the template text.</summary>
    public int Line { get; } = line;

    /// <summary>1-based column in the template text.</summary>
    public int Column { get; } = column;

    /// <summary>What went wrong, without the location.</summary>
    public string Reason { get; } = reason;
}

/// <summary>An error raised while evaluating; the renderer adds the position of the node that failed.</summary>
internal sealed class JinjaRuntimeError(string message, bool raisedByTemplate = false) : Exception(message)
{
    /// <summary>True for <c>raise_exception</c>: the text is the template author's, shown as is.</summary>
    public bool RaisedByTemplate { get; } = raisedByTemplate;

    public TextPosition? Position { get; set; }
}

/// <summary>A 1-based line and column in the template text.</summary>
internal readonly record struct TextPosition(int Line, int Column);

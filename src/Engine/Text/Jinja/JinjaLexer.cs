using System.Globalization;
using System.Text;

namespace Distil.Engine.Text.Jinja;

internal enum TokenKind
{
    Text,
    VariableStart,
    VariableEnd,
    BlockStart,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Value, TextPosition Position);

/// <summary>
/// Splits template text into tokens with the whitespace rules transformers renders chat templates with:
/// <c>trim_blocks</c> (the newline after a block or comment tag is dropped), <c>lstrip_blocks</c> (spaces and tabs
/// from the start of a line up to a block or comment tag are dropped), <c>-</c> markers that strip all whitespace on
/// their side, and a single trailing newline of the template dropped.
/// </summary>
internal sealed class JinjaLexer
{
    private readonly string _text;
    private readonly int _length;
    private readonly string _source;
    private readonly List<Token> _tokens = [];
    private readonly int[] _lineStarts;
    private int _at;

    private JinjaLexer(string text, string source)
    {
        _text = text;
        _source = source;
        _length = text.EndsWith('\n') ? text.Length - 1 : text.Length;
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }
        _lineStarts = [.. starts];
    }

    public static List<Token> Tokenize(string text, string source)
    {
        var lexer = new JinjaLexer(text, source);
        lexer.Run();
        return lexer._tokens;
    }

    private TextPosition PositionOf(int offset)
    {
        var line = Array.BinarySearch(_lineStarts, offset);
        if (line < 0)
        {
            line = ~line - 1;
        }
        return new TextPosition(line + 1, offset - _lineStarts[line] + 1);
    }

    private JinjaTemplateException Error(int offset, string reason)
    {
        var p = PositionOf(offset);
        return new JinjaTemplateException(_source, p.Line, p.Column, reason);
    }

    private void Run()
    {
        var stripNextText = false;
        while (_at < _length)
        {
            var tag = FindTag(_at);
            var textEnd = tag < 0 ? _length : tag;
            var textStart = _at;
            if (stripNextText)
            {
                while (textStart < textEnd && IsWhitespace(_text[textStart]))
                {
                    textStart++;
                }
            }
            if (tag >= 0)
            {
                var kind = _text[tag + 1];
                var marker = tag + 2 < _length ? _text[tag + 2] : '\0';
                if (marker == '-')
                {
                    while (textEnd > textStart && IsWhitespace(_text[textEnd - 1]))
                    {
                        textEnd--;
                    }
                }
                else if (kind != '{' && marker != '+')
                {
                    textEnd = LstripBlock(textStart, textEnd);
                }
            }
            if (textEnd > textStart)
            {
                _tokens.Add(new Token(TokenKind.Text, _text[textStart..textEnd], PositionOf(textStart)));
            }
            if (tag < 0)
            {
                break;
            }
            stripNextText = _text[tag + 1] switch
            {
                '#' => Comment(tag),
                '%' => Tag(tag, TokenKind.BlockStart, TokenKind.BlockEnd, '%'),
                _ => Tag(tag, TokenKind.VariableStart, TokenKind.VariableEnd, '}'),
            };
        }
        _tokens.Add(new Token(TokenKind.End, "", PositionOf(Math.Min(_at, _text.Length))));
    }

    private int FindTag(int from)
    {
        for (var i = _text.IndexOf('{', from); i >= 0 && i + 1 < _length; i = _text.IndexOf('{', i + 1))
        {
            var next = _text[i + 1];
            if (next is '{' or '%' or '#')
            {
                return i;
            }
        }
        return -1;
    }

    // lstrip_blocks: spaces and tabs between the start of the line and a block tag go.
    private int LstripBlock(int textStart, int textEnd)
    {
        var end = textEnd;
        while (end > textStart && _text[end - 1] is ' ' or '\t')
        {
            end--;
        }
        var lineStart = end == 0 || _text[end - 1] == '\n';
        return lineStart ? end : textEnd;
    }

    // A comment; returns whether the text after it is stripped.
    private bool Comment(int start)
    {
        var close = _text.IndexOf("#}", start + 2, StringComparison.Ordinal);
        if (close < 0 || close >= _length + 1)
        {
            throw Error(start, "comment '{#' is never closed with '#}'");
        }
        _at = close + 2;
        var strip = _text[close - 1] == '-' && close - 1 >= start + 2;
        if (!strip)
        {
            SkipTrimBlocksNewline();
        }
        return strip;
    }

    private bool Tag(int start, TokenKind open, TokenKind close, char closer)
    {
        _tokens.Add(new Token(open, "", PositionOf(start)));
        _at = start + 2;
        if (_at < _length && _text[_at] is '-' or '+')
        {
            _at++;
        }
        var braces = 0;
        while (true)
        {
            while (_at < _length && IsWhitespace(_text[_at]))
            {
                _at++;
            }
            if (_at >= _length)
            {
                throw Error(start, closer == '%' ? "block tag '{%' is never closed with '%}'" : "expression '{{' is never closed with '}}'");
            }
            var c = _text[_at];
            var stripAfter = c == '-' && Peek(1) == closer && Peek(2) == '}';
            if ((braces == 0 && c == closer && Peek(1) == '}') || stripAfter)
            {
                _tokens.Add(new Token(close, "", PositionOf(_at)));
                _at += stripAfter ? 3 : 2;
                if (!stripAfter && closer == '%')
                {
                    SkipTrimBlocksNewline();
                }
                return stripAfter;
            }
            if (c == '{')
            {
                braces++;
            }
            else if (c == '}')
            {
                braces--;
            }
            ReadToken();
        }
    }

    // trim_blocks: the first newline after a block or comment tag goes.
    private void SkipTrimBlocksNewline()
    {
        if (_at < _length && _text[_at] == '\n')
        {
            _at++;
        }
    }

    private char Peek(int ahead) => _at + ahead < _length ? _text[_at + ahead] : '\0';

    private static readonly string[] Operators =
        ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="];

    private void ReadToken()
    {
        var start = _at;
        var c = _text[_at];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            while (_at < _length && (char.IsAsciiLetterOrDigit(_text[_at]) || _text[_at] == '_'))
            {
                _at++;
            }
            _tokens.Add(new Token(TokenKind.Name, _text[start.._at], PositionOf(start)));
            return;
        }
        if (char.IsAsciiDigit(c))
        {
            while (_at < _length && char.IsAsciiDigit(_text[_at]))
            {
                _at++;
            }
            var isFloat = _at + 1 < _length && _text[_at] == '.' && char.IsAsciiDigit(_text[_at + 1])
                && !(_tokens.Count > 0 && _tokens[^1] is { Kind: TokenKind.Operator, Value: "." });
            if (isFloat)
            {
                _at++;
                while (_at < _length && char.IsAsciiDigit(_text[_at]))
                {
                    _at++;
                }
            }
            _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, _text[start.._at], PositionOf(start)));
            return;
        }
        if (c is '"' or '\'')
        {
            _tokens.Add(new Token(TokenKind.String, ReadString(c), PositionOf(start)));
            return;
        }
        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_text, _at, op, 0, op.Length) == 0)
            {
                _at += op.Length;
                _tokens.Add(new Token(TokenKind.Operator, op, PositionOf(start)));
                return;
            }
        }
        throw Error(start, $"unexpected character '{c}'");
    }

    private string ReadString(char quote)
    {
        var start = _at;
        _at++;
        var value = new StringBuilder();
        while (true)
        {
            if (_at >= _length)
            {
                throw Error(start, "string literal is never closed");
            }
            var c = _text[_at++];
            if (c == quote)
            {
                return value.ToString();
            }
            if (c != '\\')
            {
                value.Append(c);
                continue;
            }
            if (_at >= _length)
            {
                throw Error(start, "string literal is never closed");
            }
            var escaped = _text[_at++];
            switch (escaped)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case '0': value.Append('\0'); break;
                case '\\' or '\'' or '"': value.Append(escaped); break;
                case '\n': break;
                case 'x' or 'u':
                    var digits = escaped == 'x' ? 2 : 4;
                    if (_at + digits > _length || !int.TryParse(_text.AsSpan(_at, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                    {
                        throw Error(_at - 2, $"invalid escape sequence \\{escaped} in string literal");
                    }
                    value.Append((char)code);
                    _at += digits;
                    break;
                default:
                    // Python keeps unknown escapes such as "\d" as they are.
                    value.Append('\\').Append(escaped);
                    break;
            }
        }
    }

    /// <summary>Whitespace as JavaScript's and Python's <c>strip()</c> see it.</summary>
    internal static bool IsWhitespace(char c) => char.IsWhiteSpace(c) || c == '\uFEFF';
}

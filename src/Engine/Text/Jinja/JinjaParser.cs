using System.Globalization;

namespace Distil.Engine.Text.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja subset chat templates use, with Jinja's operator precedence:
/// conditional &lt; or &lt; and &lt; not &lt; comparisons (incl. <c>in</c>) &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt;
/// unary &lt; postfix (attribute, item, slice, call, filter, test).
/// </summary>
internal sealed class JinjaParser
{
    private readonly List<Token> _tokens;
    private readonly string _source;
    private int _at;

    private JinjaParser(List<Token> tokens, string source)
    {
        _tokens = tokens;
        _source = source;
    }

    public static IReadOnlyList<Node> Parse(string text, string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(text, source), source);
        var body = parser.ParseBody([], out var end);
        if (end is not null)
        {
            throw parser.Error(parser.Current.Position, $"unexpected '{end}' with no block to close");
        }
        return body;
    }

    private Token Current => _tokens[_at];

    private JinjaTemplateException Error(TextPosition at, string reason) => new(_source, at.Line, at.Column, reason);

    private Token Next() => _tokens[_at++];

    private bool IsOperator(string op) => Current.Kind == TokenKind.Operator && Current.Value == op;

    private bool IsName(string name) => Current.Kind == TokenKind.Name && Current.Value == name;

    private bool SkipOperator(string op)
    {
        if (!IsOperator(op))
        {
            return false;
        }
        _at++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!IsName(name))
        {
            return false;
        }
        _at++;
        return true;
    }

    private void ExpectOperator(string op)
    {
        if (!SkipOperator(op))
        {
            throw Error(Current.Position, $"expected '{op}' but found {Describe(Current)}");
        }
    }

    private void Expect(TokenKind kind, string what)
    {
        if (Current.Kind != kind)
        {
            throw Error(Current.Position, $"expected {what} but found {Describe(Current)}");
        }
        _at++;
    }

    private string ExpectName()
    {
        if (Current.Kind != TokenKind.Name)
        {
            throw Error(Current.Position, $"expected a name but found {Describe(Current)}");
        }
        return Next().Value;
    }

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the template",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.VariableEnd => "'}}'",
        TokenKind.Text => "text",
        TokenKind.String => $"string \"{token.Value}\"",
        _ => $"'{token.Value}'",
    };

    // Parses nodes until a block tag whose keyword is one of endKeywords (left unconsumed after the keyword) or the end.
    private List<Node> ParseBody(string[] endKeywords, out string? endedBy)
    {
        var body = new List<Node>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    endedBy = null;
                    return body;
                case TokenKind.Text:
                    _at++;
                    body.Add(new TextNode(token.Position, token.Value));
                    break;
                case TokenKind.VariableStart:
                    _at++;
                    var value = ParseExpression();
                    Expect(TokenKind.VariableEnd, "'}}'");
                    body.Add(new OutputNode(token.Position, value));
                    break;
                case TokenKind.BlockStart:
                    _at++;
                    var keyword = Current;
                    if (keyword.Kind == TokenKind.Name && (endKeywords.Contains(keyword.Value) || IsEndKeyword(keyword.Value)))
                    {
                        if (!endKeywords.Contains(keyword.Value))
                        {
                            throw Error(keyword.Position, $"unexpected '{keyword.Value}'" + (endKeywords.Length > 0 ? $"; expected one of: {string.Join(", ", endKeywords)}" : ""));
                        }
                        _at++;
                        endedBy = keyword.Value;
                        return body;
                    }
                    if (ParseStatement(token.Position) is { } statement)
                    {
                        body.Add(statement);
                    }
                    break;
                default:
                    throw Error(token.Position, $"unexpected {Describe(token)}");
            }
        }
    }

    private static bool IsEndKeyword(string name) => name.StartsWith("end", StringComparison.Ordinal) || name is "elif" or "else";

    private List<Node> ParseBlockBody(string opening, TextPosition at, string[] endKeywords, out string endedBy)
    {
        var body = ParseBody(endKeywords, out var ended);
        endedBy = ended ?? throw Error(at, $"'{opening}' block is never closed (expected {string.Join(" or ", endKeywords)})");
        return body;
    }

    private Node? ParseStatement(TextPosition at)
    {
        var keyword = ExpectName();
        switch (keyword)
        {
            case "if":
                return ParseIf(at);
            case "for":
                return ParseFor(at);
            case "set":
                return ParseSet(at);
            case "macro":
                return ParseMacro(at);
            case "filter":
                var filters = ParseFilterChain(null);
                Expect(TokenKind.BlockEnd, "'%}'");
                var body = ParseBlockBody("filter", at, ["endfilter"], out _);
                Expect(TokenKind.BlockEnd, "'%}'");
                return new FilterBlockNode(at, filters, body);
            case "break" or "continue":
                Expect(TokenKind.BlockEnd, "'%}'");
                return new LoopControlNode(at, keyword == "break");
            case "generation" or "endgeneration":
                // transformers' assistant-mask marker: renders nothing.
                Expect(TokenKind.BlockEnd, "'%}'");
                return null;
            default:
                throw Error(at, $"unknown statement '{keyword}' (supported: if, for, set, macro, filter, break, continue)");
        }
    }

    private IfNode ParseIf(TextPosition at)
    {
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        var test = ParseExpression();
        while (true)
        {
            Expect(TokenKind.BlockEnd, "'%}'");
            var body = ParseBlockBody("if", at, ["elif", "else", "endif"], out var ended);
            branches.Add((test, body));
            if (ended == "elif")
            {
                test = ParseExpression();
                continue;
            }
            Expect(TokenKind.BlockEnd, "'%}'");
            if (ended == "else")
            {
                var otherwise = ParseBlockBody("if", at, ["endif"], out _);
                Expect(TokenKind.BlockEnd, "'%}'");
                return new IfNode(at, branches, otherwise);
            }
            return new IfNode(at, branches, []);
        }
    }

    private ForNode ParseFor(TextPosition at)
    {
        var target = ParseAssignTarget();
        if (!SkipName("in"))
        {
            throw Error(Current.Position, $"expected 'in' but found {Describe(Current)}");
        }
        var iterable = ParseTuple(withConditional: false);
        var condition = SkipName("if") ? ParseExpression() : null;
        SkipName("recursive");
        Expect(TokenKind.BlockEnd, "'%}'");
        var body = ParseBlockBody("for", at, ["else", "endfor"], out var ended);
        Expect(TokenKind.BlockEnd, "'%}'");
        List<Node> otherwise = [];
        if (ended == "else")
        {
            otherwise = ParseBlockBody("for", at, ["endfor"], out _);
            Expect(TokenKind.BlockEnd, "'%}'");
        }
        return new ForNode(at, target, iterable, condition, body, otherwise);
    }

    private Node ParseSet(TextPosition at)
    {
        var target = ParseAssignTarget();
        if (SkipOperator("="))
        {
            var value = ParseTuple(withConditional: true);
            Expect(TokenKind.BlockEnd, "'%}'");
            return new SetNode(at, target, value);
        }
        var filters = IsOperator("|") ? ParseFilterChain(null) : [];
        Expect(TokenKind.BlockEnd, "'%}'");
        var body = ParseBlockBody("set", at, ["endset"], out _);
        Expect(TokenKind.BlockEnd, "'%}'");
        return new SetBlockNode(at, target, filters, body);
    }

    // name, a.b, or a, b (tuple unpacking)
    private Expr ParseAssignTarget()
    {
        var at = Current.Position;
        var first = ParseAssignName();
        if (!IsOperator(","))
        {
            return first;
        }
        var names = new List<Expr> { first };
        while (SkipOperator(","))
        {
            names.Add(ParseAssignName());
        }
        return new ListExpr(at, names, IsTuple: true);
    }

    private Expr ParseAssignName()
    {
        var at = Current.Position;
        Expr target = new NameExpr(at, ExpectName());
        while (SkipOperator("."))
        {
            target = new AttributeExpr(at, target, ExpectName());
        }
        return target;
    }

    private MacroNode ParseMacro(TextPosition at)
    {
        var name = ExpectName();
        ExpectOperator("(");
        var parameters = new List<(string, Expr?)>();
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0)
            {
                ExpectOperator(",");
            }
            var parameter = ExpectName();
            parameters.Add((parameter, SkipOperator("=") ? ParseExpression() : null));
        }
        Expect(TokenKind.BlockEnd, "'%}'");
        var body = ParseBlockBody("macro", at, ["endmacro"], out _);
        if (Current.Kind == TokenKind.Name)
        {
            _at++;
        }
        Expect(TokenKind.BlockEnd, "'%}'");
        return new MacroNode(at, name, parameters, body);
    }

    // Expressions

    private Expr ParseTuple(bool withConditional)
    {
        var at = Current.Position;
        var first = withConditional ? ParseExpression() : ParseOr();
        if (!IsOperator(","))
        {
            return first;
        }
        var items = new List<Expr> { first };
        while (SkipOperator(","))
        {
            if (Current.Kind is TokenKind.BlockEnd or TokenKind.VariableEnd)
            {
                break;
            }
            items.Add(withConditional ? ParseExpression() : ParseOr());
        }
        return new ListExpr(at, items, IsTuple: true);
    }

    private Expr ParseExpression()
    {
        var at = Current.Position;
        var value = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            var otherwise = SkipName("else") ? ParseExpression() : null;
            value = new ConditionalExpr(at, test, value, otherwise);
        }
        return value;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var at = Next().Position;
            left = new BinaryExpr(at, "or", left, ParseAnd());
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var at = Next().Position;
            left = new BinaryExpr(at, "and", left, ParseNot());
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            var at = Next().Position;
            return new UnaryExpr(at, "not", ParseNot());
        }
        return ParseComparison();
    }

    private static readonly HashSet<string> ComparisonOperators = ["==", "!=", "<", ">", "<=", ">="];

    private Expr ParseComparison()
    {
        var left = ParseAdditive();
        while (true)
        {
            var at = Current.Position;
            if (Current.Kind == TokenKind.Operator && ComparisonOperators.Contains(Current.Value))
            {
                var op = Next().Value;
                left = new BinaryExpr(at, op, left, ParseAdditive());
            }
            else if (SkipName("in"))
            {
                left = new BinaryExpr(at, "in", left, ParseAdditive());
            }
            else if (IsName("not") && _tokens[_at + 1] is { Kind: TokenKind.Name, Value: "in" })
            {
                _at += 2;
                left = new BinaryExpr(at, "not in", left, ParseAdditive());
            }
            else
            {
                return left;
            }
        }
    }

    private Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (IsOperator("+") || IsOperator("-"))
        {
            var token = Next();
            left = new BinaryExpr(token.Position, token.Value, left, ParseConcat());
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMultiplicative();
        while (IsOperator("~"))
        {
            var at = Next().Position;
            left = new BinaryExpr(at, "~", left, ParseMultiplicative());
        }
        return left;
    }

    private Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (IsOperator("*") || IsOperator("/") || IsOperator("//") || IsOperator("%"))
        {
            var token = Next();
            left = new BinaryExpr(token.Position, token.Value, left, ParsePower());
        }
        return left;
    }

    private Expr ParsePower()
    {
        var left = ParseUnary(withPostfix: true);
        while (IsOperator("**"))
        {
            var at = Next().Position;
            left = new BinaryExpr(at, "**", left, ParseUnary(withPostfix: true));
        }
        return left;
    }

    private Expr ParseUnary(bool withPostfix)
    {
        if (IsOperator("-") || IsOperator("+"))
        {
            var token = Next();
            Expr negated = new UnaryExpr(token.Position, token.Value, ParseUnary(withPostfix: false));
            return withPostfix ? ParseFiltersAndTests(negated) : negated;
        }
        var primary = ParsePostfix(ParsePrimary());
        return withPostfix ? ParseFiltersAndTests(primary) : primary;
    }

    private Expr ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(token.Position, true),
                    "false" or "False" => new LiteralExpr(token.Position, false),
                    "none" or "None" => new LiteralExpr(token.Position, null),
                    _ => new NameExpr(token.Position, token.Value),
                };
            case TokenKind.String:
                var text = token.Value;
                while (Current.Kind == TokenKind.String)
                {
                    text += Next().Value;
                }
                return new LiteralExpr(token.Position, text);
            case TokenKind.Integer:
                return long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var integer)
                    ? new LiteralExpr(token.Position, integer)
                    : throw Error(token.Position, $"integer {token.Value} is too large");
            case TokenKind.Float:
                return new LiteralExpr(token.Position, double.Parse(token.Value, CultureInfo.InvariantCulture));
            case TokenKind.Operator when token.Value == "(":
                if (SkipOperator(")"))
                {
                    return new ListExpr(token.Position, [], IsTuple: true);
                }
                var inner = ParseTuple(withConditional: true);
                ExpectOperator(")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                var items = new List<Expr>();
                while (!SkipOperator("]"))
                {
                    if (items.Count > 0)
                    {
                        ExpectOperator(",");
                        if (SkipOperator("]"))
                        {
                            break;
                        }
                    }
                    items.Add(ParseExpression());
                }
                return new ListExpr(token.Position, items, IsTuple: false);
            case TokenKind.Operator when token.Value == "{":
                var entries = new List<(Expr, Expr)>();
                while (!SkipOperator("}"))
                {
                    if (entries.Count > 0)
                    {
                        ExpectOperator(",");
                        if (SkipOperator("}"))
                        {
                            break;
                        }
                    }
                    var key = ParseExpression();
                    ExpectOperator(":");
                    entries.Add((key, ParseExpression()));
                }
                return new DictExpr(token.Position, entries);
            default:
                throw Error(token.Position, $"unexpected {Describe(token)} in an expression");
        }
    }

    private Expr ParsePostfix(Expr target)
    {
        while (true)
        {
            var at = target.Position;
            if (SkipOperator("."))
            {
                if (Current.Kind == TokenKind.Integer)
                {
                    target = new ItemExpr(at, target, new LiteralExpr(at, long.Parse(Next().Value, CultureInfo.InvariantCulture)));
                }
                else
                {
                    target = new AttributeExpr(at, target, ExpectName());
                }
            }
            else if (SkipOperator("["))
            {
                target = ParseSubscript(at, target);
            }
            else if (SkipOperator("("))
            {
                target = new CallExpr(at, target, ParseArguments());
            }
            else
            {
                return target;
            }
        }
    }

    private Expr ParseSubscript(TextPosition at, Expr target)
    {
        Expr? start = null;
        if (!IsOperator(":"))
        {
            start = ParseExpression();
            if (SkipOperator("]"))
            {
                return new ItemExpr(at, target, start);
            }
        }
        ExpectOperator(":");
        Expr? stop = IsOperator(":") || IsOperator("]") ? null : ParseExpression();
        Expr? step = null;
        if (SkipOperator(":") && !IsOperator("]"))
        {
            step = ParseExpression();
        }
        ExpectOperator("]");
        return new SliceExpr(at, target, start, stop, step);
    }

    // After "(": arguments up to and including ")".
    private Arguments ParseArguments()
    {
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        while (!SkipOperator(")"))
        {
            if (positional.Count + keywords.Count > 0)
            {
                ExpectOperator(",");
                if (SkipOperator(")"))
                {
                    break;
                }
            }
            if (Current.Kind == TokenKind.Name && _tokens[_at + 1] is { Kind: TokenKind.Operator, Value: "=" })
            {
                var name = Next().Value;
                _at++;
                keywords.Add((name, ParseExpression()));
            }
            else if (keywords.Count > 0)
            {
                throw Error(Current.Position, "a positional argument follows a keyword argument");
            }
            else
            {
                positional.Add(ParseExpression());
            }
        }
        return new Arguments(positional, keywords);
    }

    private Expr ParseFiltersAndTests(Expr operand)
    {
        while (true)
        {
            if (IsOperator("|"))
            {
                operand = ParseFilterChain(operand)[^1];
            }
            else if (IsName("is"))
            {
                var at = Next().Position;
                var negated = SkipName("not");
                var name = Current.Kind == TokenKind.Name ? Next().Value
                    : Current.Kind == TokenKind.Operator && ComparisonOperators.Contains(Current.Value) ? Next().Value
                    : throw Error(Current.Position, $"expected a test name after 'is' but found {Describe(Current)}");
                var arguments = Arguments.None;
                if (SkipOperator("("))
                {
                    arguments = ParseArguments();
                }
                else if (Current.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                    || IsOperator("[") || IsOperator("{")
                    || (Current.Kind == TokenKind.Name && Current.Value is not ("and" or "or" or "else" or "if" or "in" or "not" or "is")))
                {
                    // "x is divisibleby 3", "x is equalto 'a'": one argument without parentheses.
                    arguments = new Arguments([ParsePostfix(ParsePrimary())], []);
                }
                operand = new TestExpr(at, operand, name, arguments, negated);
            }
            else if (IsOperator("("))
            {
                _at++;
                operand = new CallExpr(operand.Position, operand, ParseArguments());
            }
            else
            {
                return operand;
            }
        }
    }

    // "| name(args) | name ..." applied to operand (null for filter blocks); returns each step, the last is the whole chain.
    private List<FilterExpr> ParseFilterChain(Expr? operand)
    {
        var chain = new List<FilterExpr>();
        do
        {
            if (operand is null && chain.Count == 0 && !IsOperator("|"))
            {
                // {% filter name %}: the first filter has no leading pipe.
            }
            else
            {
                ExpectOperator("|");
            }
            var at = Current.Position;
            var name = ExpectName();
            var arguments = SkipOperator("(") ? ParseArguments() : Arguments.None;
            var filter = new FilterExpr(at, chain.Count > 0 ? chain[^1] : operand, name, arguments);
            chain.Add(filter);
        }
        while (IsOperator("|"));
        return chain;
    }
}

namespace Distil.Engine.Text.Jinja;

/// <summary>A parsed template node; every node knows where it starts so errors can point at it.</summary>
internal abstract record Node(TextPosition Position);

// Statements (template body)
internal sealed record TextNode(TextPosition Position, string Text) : Node(Position);

internal sealed record OutputNode(TextPosition Position, Expr Value) : Node(Position);

internal sealed record IfNode(TextPosition Position, IReadOnlyList<(Expr Test, IReadOnlyList<Node> Body)> Branches, IReadOnlyList<Node> Else) : Node(Position);

internal sealed record ForNode(TextPosition Position, Expr Target, Expr Iterable, Expr? Condition, IReadOnlyList<Node> Body, IReadOnlyList<Node> Else) : Node(Position);

internal sealed record SetNode(TextPosition Position, Expr Target, Expr Value) : Node(Position);

internal sealed record SetBlockNode(TextPosition Position, Expr Target, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Node> Body) : Node(Position);

internal sealed record MacroNode(TextPosition Position, string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Node> Body) : Node(Position);

internal sealed record FilterBlockNode(TextPosition Position, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Node> Body) : Node(Position);

internal sealed record LoopControlNode(TextPosition Position, bool IsBreak) : Node(Position);

// Expressions
internal abstract record Expr(TextPosition Position) : Node(Position);

internal sealed record LiteralExpr(TextPosition Position, object? Value) : Expr(Position);

internal sealed record NameExpr(TextPosition Position, string Name) : Expr(Position);

internal sealed record ListExpr(TextPosition Position, IReadOnlyList<Expr> Items, bool IsTuple) : Expr(Position);

internal sealed record DictExpr(TextPosition Position, IReadOnlyList<(Expr Key, Expr Value)> Items) : Expr(Position);

internal sealed record AttributeExpr(TextPosition Position, Expr Target, string Name) : Expr(Position);

internal sealed record ItemExpr(TextPosition Position, Expr Target, Expr Index) : Expr(Position);

internal sealed record SliceExpr(TextPosition Position, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Position);

internal sealed record CallExpr(TextPosition Position, Expr Callee, Arguments Arguments) : Expr(Position);

internal sealed record FilterExpr(TextPosition Position, Expr? Operand, string Name, Arguments Arguments) : Expr(Position);

internal sealed record TestExpr(TextPosition Position, Expr Operand, string Name, Arguments Arguments, bool Negated) : Expr(Position);

internal sealed record UnaryExpr(TextPosition Position, string Operator, Expr Operand) : Expr(Position);

internal sealed record BinaryExpr(TextPosition Position, string Operator, Expr Left, Expr Right) : Expr(Position);

internal sealed record ConditionalExpr(TextPosition Position, Expr Test, Expr Then, Expr? Else) : Expr(Position);

/// <summary>Positional and keyword arguments of a call, filter or test.</summary>
internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Keywords)
{
    public static Arguments None { get; } = new([], []);
}

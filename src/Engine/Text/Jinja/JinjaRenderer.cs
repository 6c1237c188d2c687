using System.Text;

namespace Distil.Engine.Text.Jinja;

/// <summary>Walks a parsed template, writing text; variables live in nested scopes as in Jinja (loops and macros open one).</summary>
internal sealed class JinjaRenderer
{
    private sealed class Scope(Scope? parent)
    {
        private readonly Dictionary<string, object?> _values = new(StringComparer.Ordinal);

        public bool TryGet(string name, out object? value)
        {
            for (var scope = this; scope is not null; scope = scope.Parent)
            {
                if (scope._values.TryGetValue(name, out value))
                {
                    return true;
                }
            }
            value = null;
            return false;
        }

        public void Set(string name, object? value) => _values[name] = value;

        public Scope? Parent { get; } = parent;
    }

    private sealed class LoopControl(bool isBreak) : Exception
    {
        public bool IsBreak { get; } = isBreak;
    }

    private readonly Scope _globals;

    public JinjaRenderer(IReadOnlyDictionary<string, object?> variables)
    {
        _globals = new Scope(null);
        _globals.Set("namespace", new JinjaCallable("namespace", (p, k) => Namespace(p, k)));
        _globals.Set("raise_exception", new JinjaCallable("raise_exception", (p, _) => throw new JinjaRuntimeError(p.Count > 0 ? JinjaValue.ToText(p[0]) : "raise_exception called", raisedByTemplate: true)));
        _globals.Set("range", new JinjaCallable("range", (p, _) => Range(p)));
        _globals.Set("dict", new JinjaCallable("dict", (_, k) => { var d = JinjaValue.NewDict(); foreach (var (key, value) in k) { d[key] = value; } return d; }));
        foreach (var (name, value) in variables)
        {
            _globals.Set(name, value);
        }
    }

    public string Render(IReadOnlyList<Node> template)
    {
        var output = new StringBuilder();
        RenderBody(template, new Scope(_globals), output);
        return output.ToString();
    }

    private void RenderBody(IReadOnlyList<Node> body, Scope scope, StringBuilder output)
    {
        foreach (var node in body)
        {
            try
            {
                RenderNode(node, scope, output);
            }
            catch (JinjaRuntimeError e) when (e.Position is null)
            {
                e.Position = node.Position;
                throw;
            }
        }
    }

    private void RenderNode(Node node, Scope scope, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                break;
            case OutputNode print:
                output.Append(JinjaValue.ToText(Evaluate(print.Value, scope)));
                break;
            case IfNode branch:
                foreach (var (test, body) in branch.Branches)
                {
                    if (JinjaValue.IsTrue(Evaluate(test, scope)))
                    {
                        RenderBody(body, scope, output);
                        return;
                    }
                }
                RenderBody(branch.Else, scope, output);
                break;
            case ForNode loop:
                RenderFor(loop, scope, output);
                break;
            case SetNode set:
                Assign(set.Target, Evaluate(set.Value, scope), scope);
                break;
            case SetBlockNode set:
                var captured = new StringBuilder();
                RenderBody(set.Body, scope, captured);
                Assign(set.Target, ApplyFilters(set.Filters, captured.ToString(), scope), scope);
                break;
            case MacroNode macro:
                scope.Set(macro.Name, Macro(macro, scope));
                break;
            case FilterBlockNode filter:
                var inner = new StringBuilder();
                RenderBody(filter.Body, scope, inner);
                output.Append(JinjaValue.ToText(ApplyFilters(filter.Filters, inner.ToString(), scope)));
                break;
            case LoopControlNode control:
                throw new LoopControl(control.IsBreak);
            default:
                throw new JinjaRuntimeError($"cannot render {node.GetType().Name}");
        }
    }

    private void RenderFor(ForNode loop, Scope scope, StringBuilder output)
    {
        var candidates = JinjaBuiltins.Items(Evaluate(loop.Iterable, scope), "for");
        var items = candidates;
        if (loop.Condition is not null)
        {
            items = [];
            foreach (var candidate in candidates)
            {
                var test = new Scope(scope);
                Assign(loop.Target, candidate, test);
                if (JinjaValue.IsTrue(Evaluate(loop.Condition, test)))
                {
                    items.Add(candidate);
                }
            }
        }
        if (items.Count == 0)
        {
            RenderBody(loop.Else, scope, output);
            return;
        }
        var body = new Scope(scope);
        for (var i = 0; i < items.Count; i++)
        {
            body.Set("loop", LoopInfo(items, i));
            Assign(loop.Target, items[i], body);
            try
            {
                RenderBody(loop.Body, body, output);
            }
            catch (LoopControl control)
            {
                if (control.IsBreak)
                {
                    break;
                }
            }
        }
    }

    private static OrderedDictionary<string, object?> LoopInfo(List<object?> items, int i)
    {
        var info = JinjaValue.NewDict();
        info["index"] = (long)i + 1;
        info["index0"] = (long)i;
        info["revindex"] = (long)(items.Count - i);
        info["revindex0"] = (long)(items.Count - i - 1);
        info["first"] = i == 0;
        info["last"] = i == items.Count - 1;
        info["length"] = (long)items.Count;
        info["previtem"] = i > 0 ? items[i - 1] : new JinjaUndefined("loop.previtem is undefined on the first item");
        info["nextitem"] = i < items.Count - 1 ? items[i + 1] : new JinjaUndefined("loop.nextitem is undefined on the last item");
        info["cycle"] = new JinjaCallable("loop.cycle", (p, _) => p.Count == 0 ? throw new JinjaRuntimeError("no items for cycling given") : p[i % p.Count]);
        return info;
    }

    private void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr name:
                scope.Set(name.Name, value);
                break;
            case AttributeExpr { Target: var owner, Name: var attribute }:
                if (Evaluate(owner, scope) is not JinjaNamespace ns)
                {
                    throw new JinjaRuntimeError("cannot assign attribute on non-namespace object");
                }
                ns.Values[attribute] = value;
                break;
            case ListExpr { IsTuple: true } tuple:
                var values = value as List<object?> ?? throw new JinjaRuntimeError($"cannot unpack non-iterable {JinjaValue.TypeName(value)} object");
                if (values.Count != tuple.Items.Count)
                {
                    throw new JinjaRuntimeError($"expected {tuple.Items.Count} values to unpack, got {values.Count}");
                }
                for (var i = 0; i < values.Count; i++)
                {
                    Assign(tuple.Items[i], values[i], scope);
                }
                break;
            default:
                throw new JinjaRuntimeError("cannot assign to this expression");
        }
    }

    private JinjaCallable Macro(MacroNode macro, Scope definedIn) => new(macro.Name, (positional, keywords) =>
    {
        if (positional.Count > macro.Parameters.Count)
        {
            throw new JinjaRuntimeError($"macro '{macro.Name}' takes not more than {macro.Parameters.Count} argument(s)");
        }
        var scope = new Scope(definedIn);
        for (var i = 0; i < macro.Parameters.Count; i++)
        {
            var (name, fallback) = macro.Parameters[i];
            scope.Set(name, i < positional.Count ? positional[i]
                : keywords.TryGetValue(name, out var value) ? value
                : fallback is not null ? Evaluate(fallback, scope)
                : new JinjaUndefined($"'{name}' is undefined"));
        }
        foreach (var key in keywords.Keys)
        {
            if (!macro.Parameters.Any(p => p.Name == key))
            {
                throw new JinjaRuntimeError($"macro '{macro.Name}' takes no keyword argument '{key}'");
            }
        }
        var output = new StringBuilder();
        RenderBody(macro.Body, scope, output);
        return output.ToString();
    });

    private object? ApplyFilters(IReadOnlyList<FilterExpr> filters, object? value, Scope scope)
    {
        foreach (var filter in filters)
        {
            value = JinjaBuiltins.ApplyFilter(filter.Name, value, EvaluateArguments(filter.Arguments, scope));
        }
        return value;
    }

    private object? Evaluate(Expr expr, Scope scope)
    {
        try
        {
            return EvaluateCore(expr, scope);
        }
        catch (JinjaRuntimeError e) when (e.Position is null)
        {
            e.Position = expr.Position;
            throw;
        }
    }

    private object? EvaluateCore(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return scope.TryGet(name.Name, out var value) ? value : new JinjaUndefined($"'{name.Name}' is undefined");
            case ListExpr list:
                return list.Items.Select(i => Evaluate(i, scope)).ToList();
            case DictExpr dict:
                var result = JinjaValue.NewDict();
                foreach (var (key, item) in dict.Items)
                {
                    result[Evaluate(key, scope) as string ?? throw new JinjaRuntimeError("dict keys must be strings")] = Evaluate(item, scope);
                }
                return result;
            case AttributeExpr attribute:
                return GetAttribute(Evaluate(attribute.Target, scope), attribute.Name);
            case ItemExpr item:
                return GetItem(Evaluate(item.Target, scope), Evaluate(item.Index, scope));
            case SliceExpr slice:
                return Slice(Evaluate(slice.Target, scope), OptionalInteger(slice.Start, scope), OptionalInteger(slice.Stop, scope), OptionalInteger(slice.Step, scope));
            case CallExpr call:
                return Evaluate(call.Callee, scope) switch
                {
                    JinjaCallable callable => Invoke(callable, EvaluateArguments(call.Arguments, scope)),
                    JinjaUndefined undefined => throw undefined.Error(),
                    var other => throw new JinjaRuntimeError($"'{JinjaValue.TypeName(other)}' object is not callable"),
                };
            case FilterExpr filter:
                var operand = filter.Operand is null ? null : Evaluate(filter.Operand, scope);
                return JinjaBuiltins.ApplyFilter(filter.Name, operand, EvaluateArguments(filter.Arguments, scope));
            case TestExpr test:
                var passed = JinjaBuiltins.ApplyTest(test.Name, Evaluate(test.Operand, scope), EvaluateArguments(test.Arguments, scope));
                return passed != test.Negated;
            case UnaryExpr unary:
                var operandValue = Evaluate(unary.Operand, scope);
                return unary.Operator switch
                {
                    "not" => !JinjaValue.IsTrue(operandValue),
                    "-" => operandValue switch
                    {
                        long l => (object)(-l),
                        bool b => b ? -1L : 0L,
                        double d => -d,
                        _ => throw new JinjaRuntimeError($"bad operand type for unary -: '{JinjaValue.TypeName(operandValue)}'"),
                    },
                    _ => JinjaValue.IsNumber(operandValue) ? operandValue : throw new JinjaRuntimeError($"bad operand type for unary +: '{JinjaValue.TypeName(operandValue)}'"),
                };
            case BinaryExpr binary:
                return EvaluateBinary(binary, scope);
            case ConditionalExpr conditional:
                return JinjaValue.IsTrue(Evaluate(conditional.Test, scope)) ? Evaluate(conditional.Then, scope)
                    : conditional.Else is null ? new JinjaUndefined("the value of an if-expression without else")
                    : Evaluate(conditional.Else, scope);
            default:
                throw new JinjaRuntimeError($"cannot evaluate {expr.GetType().Name}");
        }
    }

    private static object? Invoke(JinjaCallable callable, JinjaArguments args)
    {
        try
        {
            return callable.Invoke(args.Positional, args.Keywords);
        }
        catch (Exception e) when (e is not JinjaRuntimeError and not LoopControl and (ArgumentException or FormatException or InvalidOperationException))
        {
            throw new JinjaRuntimeError($"{callable.Name}(): {e.Message}");
        }
    }

    private object? EvaluateBinary(BinaryExpr binary, Scope scope)
    {
        var left = Evaluate(binary.Left, scope);
        switch (binary.Operator)
        {
            case "and":
                return JinjaValue.IsTrue(left) ? Evaluate(binary.Right, scope) : left;
            case "or":
                return JinjaValue.IsTrue(left) ? left : Evaluate(binary.Right, scope);
        }
        var right = Evaluate(binary.Right, scope);
        return binary.Operator switch
        {
            "==" => JinjaValue.AreEqual(left, right),
            "!=" => !JinjaValue.AreEqual(left, right),
            "<" => JinjaValue.Compare(Defined(left), Defined(right)) < 0,
            ">" => JinjaValue.Compare(Defined(left), Defined(right)) > 0,
            "<=" => JinjaValue.Compare(Defined(left), Defined(right)) <= 0,
            ">=" => JinjaValue.Compare(Defined(left), Defined(right)) >= 0,
            "in" => JinjaBuiltins.Contains(right, left),
            "not in" => !JinjaBuiltins.Contains(right, left),
            "~" => JinjaValue.ToText(left) + JinjaValue.ToText(right),
            var op => JinjaBuiltins.Arithmetic(op, left, right),
        };
    }

    private static object? Defined(object? value) => value is JinjaUndefined u ? throw u.Error() : value;

    private JinjaArguments EvaluateArguments(Arguments arguments, Scope scope)
    {
        if (arguments.Positional.Count == 0 && arguments.Keywords.Count == 0)
        {
            return JinjaArguments.Empty;
        }
        var positional = arguments.Positional.Select(a => Evaluate(a, scope)).ToList();
        var keywords = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in arguments.Keywords)
        {
            keywords[name] = Evaluate(value, scope);
        }
        return new JinjaArguments(positional, keywords);
    }

    private long? OptionalInteger(Expr? expr, Scope scope) => expr is null ? null : Evaluate(expr, scope) switch
    {
        null or JinjaUndefined => null,
        long l => l,
        bool b => b ? 1 : 0,
        var other => throw new JinjaRuntimeError($"slice indices must be integers or None, not {JinjaValue.TypeName(other)}"),
    };

    // Python's getattr-then-getitem: a dict's methods (items, get, …) win over keys of the same name.
    private static object? GetAttribute(object? target, string name) => target switch
    {
        JinjaUndefined undefined => throw undefined.Error(),
        OrderedDictionary<string, object?> dict => (object?)JinjaBuiltins.Method(dict, name) ?? (dict.TryGetValue(name, out var value) ? value : new JinjaUndefined($"'dict object' has no attribute '{name}'")),
        JinjaNamespace ns => ns.Values.TryGetValue(name, out var value) ? value : new JinjaUndefined($"namespace has no attribute '{name}'"),
        _ => (object?)JinjaBuiltins.Method(target, name) ?? new JinjaUndefined($"'{JinjaValue.TypeName(target)} object' has no attribute '{name}'"),
    };

    // Python's getitem-then-getattr.
    private static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case JinjaUndefined undefined:
                throw undefined.Error();
            case OrderedDictionary<string, object?> dict:
                return key is string k && dict.TryGetValue(k, out var value) ? value
                    : key is string name && JinjaBuiltins.Method(dict, name) is { } method ? method
                    : new JinjaUndefined($"'dict object' has no attribute {JinjaValue.Repr(key)}");
            case JinjaNamespace ns when key is string field:
                return ns.Values.TryGetValue(field, out var nsValue) ? nsValue : new JinjaUndefined($"namespace has no attribute '{field}'");
            case List<object?> list when key is long or bool:
                var index = key is long l ? l : (bool)key ? 1 : 0;
                if (index < 0)
                {
                    index += list.Count;
                }
                return index >= 0 && index < list.Count ? list[(int)index] : new JinjaUndefined($"list index {key} out of range");
            case string s when key is long position:
                var chars = JinjaBuiltins.CodePoints(s).ToList();
                var at = position < 0 ? position + chars.Count : position;
                return at >= 0 && at < chars.Count ? chars[(int)at] : new JinjaUndefined($"string index {position} out of range");
            default:
                return key is string attribute ? GetAttribute(target, attribute) : new JinjaUndefined($"'{JinjaValue.TypeName(target)} object' has no item {JinjaValue.Repr(key)}");
        }
    }

    private static object? Slice(object? target, long? start, long? stop, long? step)
    {
        var items = target switch
        {
            List<object?> list => list,
            string s => JinjaBuiltins.CodePoints(s).Cast<object?>().ToList(),
            JinjaUndefined undefined => throw undefined.Error(),
            _ => throw new JinjaRuntimeError($"'{JinjaValue.TypeName(target)}' object is not subscriptable"),
        };
        var by = step ?? 1;
        if (by == 0)
        {
            throw new JinjaRuntimeError("slice step cannot be zero");
        }
        long count = items.Count;
        long Clamp(long? index, long whenNull, long low, long high)
        {
            if (index is null)
            {
                return whenNull;
            }
            var i = index.Value < 0 ? index.Value + count : index.Value;
            return Math.Clamp(i, low, high);
        }
        var picked = new List<object?>();
        if (by > 0)
        {
            for (long i = Clamp(start, 0, 0, count), end = Clamp(stop, count, 0, count); i < end; i += by)
            {
                picked.Add(items[(int)i]);
            }
        }
        else
        {
            for (long i = Clamp(start, count - 1, -1, count - 1), end = Clamp(stop, -1, -1, count - 1); i > end; i += by)
            {
                picked.Add(items[(int)i]);
            }
        }
        return target is string ? string.Concat(picked.Cast<string>()) : picked;
    }

    private static JinjaNamespace Namespace(IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> keywords)
    {
        var ns = new JinjaNamespace();
        if (positional.Count > 0 && positional[0] is OrderedDictionary<string, object?> initial)
        {
            foreach (var (key, value) in initial)
            {
                ns.Values[key] = value;
            }
        }
        foreach (var (key, value) in keywords)
        {
            ns.Values[key] = value;
        }
        return ns;
    }

    private static List<object?> Range(IReadOnlyList<object?> p)
    {
        long Arg(int i) => p[i] is long l ? l : throw new JinjaRuntimeError("range() arguments must be integers");
        var (start, stop, step) = p.Count switch
        {
            1 => (0L, Arg(0), 1L),
            2 => (Arg(0), Arg(1), 1L),
            3 => (Arg(0), Arg(1), Arg(2)),
            _ => throw new JinjaRuntimeError("range expected 1 to 3 arguments"),
        };
        if (step == 0)
        {
            throw new JinjaRuntimeError("range() arg 3 must not be zero");
        }
        var values = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            values.Add(i);
            if (values.Count > 1_000_000)
            {
                throw new JinjaRuntimeError("range() is too long");
            }
        }
        return values;
    }
}

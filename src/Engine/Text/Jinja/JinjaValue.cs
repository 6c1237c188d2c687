using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Distil.Engine.Text.Jinja;

/// <summary>A name the template read but nobody defined: falsy, renders as nothing, fails when used as a value.</summary>
internal sealed class JinjaUndefined(string reason)
{
    /// <summary>Why it is undefined, as the error reads when the template uses it anyway.</summary>
    public string Reason { get; } = reason;

    public JinjaRuntimeError Error() => new(Reason);
}

/// <summary>The mutable object <c>namespace()</c> makes, so a loop body can change state outside the loop.</summary>
internal sealed class JinjaNamespace
{
    public OrderedDictionary<string, object?> Values { get; } = new(StringComparer.Ordinal);
}

/// <summary>Something a template can call: a global function, a macro, or a bound method such as <c>text.split</c>.</summary>
internal sealed class JinjaCallable(string name, Func<IReadOnlyList<object?>, IReadOnlyDictionary<string, object?>, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> keywords) => invoke(positional, keywords);
}

/// <summary>
/// Values inside templates are plain .NET objects: null (none), <see cref="JinjaUndefined"/>, bool, long, double,
/// string, <c>List&lt;object?&gt;</c> (lists and tuples), <c>OrderedDictionary&lt;string, object?&gt;</c> (dicts, in
/// insertion order), <see cref="JinjaNamespace"/> and <see cref="JinjaCallable"/>. These helpers give them Python's
/// meaning (truth, equality, <c>str()</c>), since transformers renders chat templates with Python Jinja.
/// </summary>
internal static class JinjaValue
{
    public static OrderedDictionary<string, object?> NewDict() => new(StringComparer.Ordinal);

    /// <summary>A JSON value as a template value (objects keep their key order; integers stay integers).</summary>
    public static object? FromJson(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => json.GetString(),
        JsonValueKind.Number => json.TryGetInt64(out var integer) ? (object)integer : json.GetDouble(),
        JsonValueKind.Array => json.EnumerateArray().Select(FromJson).ToList(),
        _ => ObjectFromJson(json),
    };

    private static OrderedDictionary<string, object?> ObjectFromJson(JsonElement json)
    {
        var dict = NewDict();
        foreach (var property in json.EnumerateObject())
        {
            dict[property.Name] = FromJson(property.Value);
        }
        return dict;
    }

    public static bool IsTrue(object? value) => value switch
    {
        null or JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        OrderedDictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaRuntimeError($"expected a number, got {TypeName(value)}"),
    };

    /// <summary>Python's type name, for error messages.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        JinjaUndefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        JinjaNamespace => "Namespace",
        JinjaCallable => "function",
        _ => value.GetType().Name,
    };

    /// <summary>Python's <c>==</c>: numbers by value (True == 1), containers element by element.</summary>
    public static bool AreEqual(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return left is double || right is double ? ToDouble(left) == ToDouble(right) : ToLong(left) == ToLong(right);
        }
        return (left, right) switch
        {
            (null, null) => true,
            (JinjaUndefined, JinjaUndefined) => true,
            (string a, string b) => string.Equals(a, b, StringComparison.Ordinal),
            (List<object?> a, List<object?> b) => a.Count == b.Count && a.Zip(b).All(p => AreEqual(p.First, p.Second)),
            (OrderedDictionary<string, object?> a, OrderedDictionary<string, object?> b) =>
                a.Count == b.Count && a.All(e => b.TryGetValue(e.Key, out var other) && AreEqual(e.Value, other)),
            _ => ReferenceEquals(left, right),
        };
    }

    private static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => (long)ToDouble(value),
    };

    /// <summary>Python ordering for &lt; &gt; &lt;= &gt;= and sort: numbers with numbers, strings with strings.</summary>
    public static int Compare(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return ToDouble(left).CompareTo(ToDouble(right));
        }
        if (left is string a && right is string b)
        {
            return string.CompareOrdinal(a, b);
        }
        throw new JinjaRuntimeError($"'<' not supported between instances of '{TypeName(left)}' and '{TypeName(right)}'");
    }

    /// <summary>Python's <c>str()</c> as Jinja prints a value; undefined prints nothing.</summary>
    public static string ToText(object? value) => value switch
    {
        string s => s,
        JinjaUndefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's <c>repr()</c> (what lists and dicts print their items as).</summary>
    public static string Repr(object? value) => value switch
    {
        null => "None",
        JinjaUndefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        string s => QuoteString(s),
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        OrderedDictionary<string, object?> dict => "{" + string.Join(", ", dict.Select(e => QuoteString(e.Key) + ": " + Repr(e.Value))) + "}",
        JinjaNamespace ns => "<Namespace " + string.Join(", ", ns.Values.Select(e => e.Key + "=" + Repr(e.Value))) + ">",
        JinjaCallable f => $"<function {f.Name}>",
        _ => value.ToString() ?? "",
    };

    /// <summary>Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FormatFloat(double value)
    {
        if (double.IsNaN(value))
        {
            return "nan";
        }
        if (double.IsInfinity(value))
        {
            return value > 0 ? "inf" : "-inf";
        }
        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }
        var shortest = value.ToString("R", CultureInfo.InvariantCulture);
        // Digits and exponent of the shortest round-trip form.
        var negative = shortest.StartsWith('-');
        var body = negative ? shortest[1..] : shortest;
        int exponent;
        string digits;
        var e = body.IndexOfAny(['E', 'e']);
        var mantissa = e >= 0 ? body[..e] : body;
        var extra = e >= 0 ? int.Parse(body[(e + 1)..], CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.');
        var intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var fracPart = dot >= 0 ? mantissa[(dot + 1)..] : "";
        digits = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - digits.Length;
        exponent = intPart.Length - 1 - leadingZeros + extra;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
        {
            digits = "0";
        }
        string text;
        if (exponent < -4 || exponent >= 16)
        {
            var m = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
            text = m + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
        }
        else if (exponent < 0)
        {
            text = "0." + new string('0', -exponent - 1) + digits;
        }
        else if (digits.Length <= exponent + 1)
        {
            text = digits + new string('0', exponent + 1 - digits.Length) + ".0";
        }
        else
        {
            text = digits[..(exponent + 1)] + "." + digits[(exponent + 1)..];
        }
        return negative ? "-" + text : text;
    }

    private static string QuoteString(string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var text = new StringBuilder().Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    if (c == quote)
                    {
                        text.Append('\\').Append(c);
                    }
                    else if (c < 0x20 || c == 0x7f)
                    {
                        text.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }
                    break;
            }
        }
        return text.Append(quote).ToString();
    }
}

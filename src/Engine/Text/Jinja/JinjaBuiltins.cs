using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Distil.Engine.Text.Jinja;

/// <summary>The filters, tests and methods on strings and dicts that Hugging Face chat templates call, with Python Jinja's meaning.</summary>
internal static partial class JinjaBuiltins
{
    private delegate object? Filter(object? value, JinjaArguments args);

    private static readonly Dictionary<string, Filter> Filters = new(StringComparer.Ordinal)
    {
        ["abs"] = (v, _) => v is long l ? (object)Math.Abs(l) : Math.Abs(JinjaValue.ToDouble(v)),
        ["capitalize"] = (v, _) => Capitalize(Text(v)),
        ["count"] = (v, _) => Length(v),
        ["d"] = Default,
        ["default"] = Default,
        ["first"] = (v, _) => Items(v, "first") is { Count: > 0 } items ? items[0] : new JinjaUndefined("first item of an empty sequence"),
        ["float"] = (v, a) => ToFloat(v, a.Get(0, "default", 0.0)),
        ["indent"] = Indent,
        ["int"] = (v, a) => ToInteger(v, a.Get(0, "default", 0L)),
        ["items"] = (v, _) => v is JinjaUndefined ? new List<object?>() : DictItems(Dict(v, "items")),
        ["join"] = (v, a) => string.Join(a.GetString(0, "d", "")!, Items(v, "join").Select(i => JinjaValue.ToText(a.GetString(1, "attribute") is { } attr ? Attribute(i, attr) : i))),
        ["last"] = (v, _) => Items(v, "last") is { Count: > 0 } items ? items[^1] : new JinjaUndefined("last item of an empty sequence"),
        ["length"] = (v, _) => Length(v),
        ["list"] = (v, _) => Items(v, "list").ToList(),
        ["lower"] = (v, _) => Text(v).ToLowerInvariant(),
        ["map"] = Map,
        ["max"] = (v, _) => Items(v, "max").Aggregate((a, b) => JinjaValue.Compare(a, b) >= 0 ? a : b),
        ["min"] = (v, _) => Items(v, "min").Aggregate((a, b) => JinjaValue.Compare(a, b) <= 0 ? a : b),
        ["reject"] = (v, a) => Select(v, a, attribute: false, keep: false),
        ["rejectattr"] = (v, a) => Select(v, a, attribute: true, keep: false),
        ["replace"] = (v, a) => Replace(Text(v), a),
        ["reverse"] = (v, _) => v is string s ? string.Concat(CodePoints(s).Reverse()) : Items(v, "reverse").AsEnumerable().Reverse().ToList(),
        ["safe"] = (v, _) => v,
        ["select"] = (v, a) => Select(v, a, attribute: false, keep: true),
        ["selectattr"] = (v, a) => Select(v, a, attribute: true, keep: true),
        ["sort"] = Sort,
        ["string"] = (v, _) => JinjaValue.ToText(v),
        ["sum"] = (v, _) => Items(v, "sum").Aggregate((object?)0L, (a, b) => Arithmetic("+", a, b)),
        ["title"] = (v, _) => Title(Text(v)),
        ["tojson"] = (v, a) => JinjaJson.Serialize(v, a.GetInteger(1, "indent") is { } i ? (int)i : null, a.GetBool(3, "sort_keys"), Separators(a.Get(2, "separators")), a.GetBool(0, "ensure_ascii")),
        ["trim"] = (v, a) => Strip(Text(v), a.GetString(0, "chars"), left: true, right: true),
        ["unique"] = (v, _) => Items(v, "unique").Aggregate(new List<object?>(), (seen, i) => { if (!seen.Any(s => JinjaValue.AreEqual(s, i))) { seen.Add(i); } return seen; }),
        ["upper"] = (v, _) => Text(v).ToUpperInvariant(),
        ["wordcount"] = (v, _) => (long)Text(v).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length,
    };

    private delegate bool Test(object? value, JinjaArguments args);

    private static readonly Dictionary<string, Test> Tests = new(StringComparer.Ordinal)
    {
        ["boolean"] = (v, _) => v is bool,
        ["callable"] = (v, _) => v is JinjaCallable,
        ["defined"] = (v, _) => v is not JinjaUndefined,
        ["divisibleby"] = (v, a) => JinjaValue.ToDouble(v) % JinjaValue.ToDouble(a.Get(0, "num")) == 0,
        ["eq"] = (v, a) => JinjaValue.AreEqual(v, a.Get(0, "other")),
        ["equalto"] = (v, a) => JinjaValue.AreEqual(v, a.Get(0, "other")),
        ["=="] = (v, a) => JinjaValue.AreEqual(v, a.Get(0, "other")),
        ["even"] = (v, _) => v is long l && l % 2 == 0,
        ["false"] = (v, _) => v is false,
        ["float"] = (v, _) => v is double,
        ["ge"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) >= 0,
        [">="] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) >= 0,
        ["gt"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) > 0,
        ["greaterthan"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) > 0,
        [">"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) > 0,
        ["in"] = (v, a) => Contains(a.Get(0, "seq"), v),
        ["integer"] = (v, _) => v is long,
        ["iterable"] = (v, _) => v is string or List<object?> or OrderedDictionary<string, object?>,
        ["le"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) <= 0,
        ["<="] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) <= 0,
        ["lower"] = (v, _) => v is string s && string.Equals(s, s.ToLowerInvariant(), StringComparison.Ordinal),
        ["lt"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) < 0,
        ["lessthan"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) < 0,
        ["<"] = (v, a) => JinjaValue.Compare(v, a.Get(0, "other")) < 0,
        ["mapping"] = (v, _) => v is OrderedDictionary<string, object?>,
        ["ne"] = (v, a) => !JinjaValue.AreEqual(v, a.Get(0, "other")),
        ["!="] = (v, a) => !JinjaValue.AreEqual(v, a.Get(0, "other")),
        ["none"] = (v, _) => v is null,
        ["number"] = (v, _) => JinjaValue.IsNumber(v),
        ["odd"] = (v, _) => v is long l && l % 2 != 0,
        ["sameas"] = (v, a) => ReferenceEquals(v, a.Get(0, "other")) || (v is null && a.Get(0, "other") is null) || (v is bool b && a.Get(0, "other") is bool c && b == c),
        ["sequence"] = (v, _) => v is string or List<object?> or OrderedDictionary<string, object?>,
        ["string"] = (v, _) => v is string,
        ["true"] = (v, _) => v is true,
        ["undefined"] = (v, _) => v is JinjaUndefined,
        ["upper"] = (v, _) => v is string s && string.Equals(s, s.ToUpperInvariant(), StringComparison.Ordinal),
    };

    public static object? ApplyFilter(string name, object? value, JinjaArguments args) =>
        Filters.TryGetValue(name, out var filter) ? filter(value, args) : throw new JinjaRuntimeError($"no filter named '{name}'");

    public static bool ApplyTest(string name, object? value, JinjaArguments args) =>
        Tests.TryGetValue(name, out var test) ? test(value, args) : throw new JinjaRuntimeError($"no test named '{name}'");

    public static bool HasFilter(string name) => Filters.ContainsKey(name);

    /// <summary>The method <paramref name="name"/> of a string or dict bound to it, or null when it has none.</summary>
    public static JinjaCallable? Method(object? target, string name) => target switch
    {
        string s => StringMethod(s, name),
        OrderedDictionary<string, object?> d => DictMethod(d, name),
        _ => null,
    };

    private static JinjaCallable? StringMethod(string s, string name)
    {
        Func<JinjaArguments, object?>? body = name switch
        {
            "upper" => _ => s.ToUpperInvariant(),
            "lower" => _ => s.ToLowerInvariant(),
            "strip" => a => Strip(s, a.GetString(0, "chars"), left: true, right: true),
            "lstrip" => a => Strip(s, a.GetString(0, "chars"), left: true, right: false),
            "rstrip" => a => Strip(s, a.GetString(0, "chars"), left: false, right: true),
            "split" => a => Split(s, a.GetString(0, "sep"), a.GetInteger(1, "maxsplit", -1)!.Value),
            "startswith" => a => Affixes(a.Get(0, "prefix")).Any(p => s.StartsWith(p, StringComparison.Ordinal)),
            "endswith" => a => Affixes(a.Get(0, "suffix")).Any(p => s.EndsWith(p, StringComparison.Ordinal)),
            "replace" => a => Replace(s, a),
            "title" => _ => Title(s),
            "capitalize" => _ => Capitalize(s),
            "join" => a => string.Join(s, Items(a.Get(0, "iterable"), "join").Select(JinjaValue.ToText)),
            "find" => a => (long)s.IndexOf(Text(a.Get(0, "sub")), StringComparison.Ordinal),
            "count" => a => (long)CountOccurrences(s, Text(a.Get(0, "sub"))),
            "isdigit" => _ => s.Length > 0 && s.All(char.IsDigit),
            "isspace" => _ => s.Length > 0 && s.All(char.IsWhiteSpace),
            "isalpha" => _ => s.Length > 0 && s.All(char.IsLetter),
            _ => null,
        };
        return body is null ? null : new JinjaCallable($"str.{name}", (p, k) => body(new JinjaArguments(p, k)));
    }

    private static JinjaCallable? DictMethod(OrderedDictionary<string, object?> d, string name)
    {
        Func<JinjaArguments, object?>? body = name switch
        {
            "items" => _ => DictItems(d),
            "keys" => _ => d.Keys.Cast<object?>().ToList(),
            "values" => _ => d.Values.ToList(),
            "get" => a => a.Get(0, "key") is string key && d.TryGetValue(key, out var value) ? value : a.Get(1, "default"),
            _ => null,
        };
        return body is null ? null : new JinjaCallable($"dict.{name}", (p, k) => body(new JinjaArguments(p, k)));
    }

    /// <summary>Python's <c>+ - * / // % **</c>.</summary>
    public static object? Arithmetic(string op, object? left, object? right)
    {
        if (left is JinjaUndefined u)
        {
            throw u.Error();
        }
        if (right is JinjaUndefined v)
        {
            throw v.Error();
        }
        if (JinjaValue.IsNumber(left) && JinjaValue.IsNumber(right))
        {
            if (left is not double && right is not double && op is not ("/" or "**"))
            {
                long a = left is bool lb ? (lb ? 1 : 0) : (long)left!, b = right is bool rb ? (rb ? 1 : 0) : (long)right!;
                return op switch
                {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "//" => b == 0 ? throw new JinjaRuntimeError("integer division or modulo by zero") : (long)Math.Floor((double)a / b),
                    "%" => b == 0 ? throw new JinjaRuntimeError("integer division or modulo by zero") : ((a % b) + b) % b,
                    _ => throw new JinjaRuntimeError($"unsupported operator {op}"),
                };
            }
            double x = JinjaValue.ToDouble(left), y = JinjaValue.ToDouble(right);
            if (op == "**" && left is long && right is long && y >= 0)
            {
                return (long)Math.Pow(x, y);
            }
            return op switch
            {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "/" => y == 0 ? throw new JinjaRuntimeError("division by zero") : x / y,
                "//" => y == 0 ? throw new JinjaRuntimeError("float floor division by zero") : Math.Floor(x / y),
                "%" => y == 0 ? throw new JinjaRuntimeError("float modulo") : x - (y * Math.Floor(x / y)),
                "**" => Math.Pow(x, y),
                _ => throw new JinjaRuntimeError($"unsupported operator {op}"),
            };
        }
        return (op, left, right) switch
        {
            ("+", string a, string b) => a + b,
            ("+", List<object?> a, List<object?> b) => a.Concat(b).ToList(),
            ("*", string a, long n) => string.Concat(Enumerable.Repeat(a, (int)Math.Max(0, n))),
            ("*", List<object?> a, long n) => Enumerable.Repeat(a, (int)Math.Max(0, n)).SelectMany(x => x).ToList(),
            _ => throw new JinjaRuntimeError($"unsupported operand type(s) for {op}: '{JinjaValue.TypeName(left)}' and '{JinjaValue.TypeName(right)}'"),
        };
    }

    /// <summary>Python's <c>needle in container</c>.</summary>
    public static bool Contains(object? container, object? needle) => container switch
    {
        string s => needle is string n ? s.Contains(n, StringComparison.Ordinal) : throw new JinjaRuntimeError($"'in <string>' requires string as left operand, not {JinjaValue.TypeName(needle)}"),
        List<object?> list => list.Any(i => JinjaValue.AreEqual(i, needle)),
        OrderedDictionary<string, object?> dict => needle is string key && dict.ContainsKey(key),
        JinjaUndefined => false,
        _ => throw new JinjaRuntimeError($"argument of type '{JinjaValue.TypeName(container)}' is not iterable"),
    };

    /// <summary>The items a for loop or a filter walks: list items, dict keys, string characters.</summary>
    public static List<object?> Items(object? value, string usedBy) => value switch
    {
        List<object?> list => list,
        OrderedDictionary<string, object?> dict => dict.Keys.Cast<object?>().ToList(),
        string s => CodePoints(s).Cast<object?>().ToList(),
        JinjaUndefined => [],
        JinjaNamespace => throw new JinjaRuntimeError($"{usedBy}: 'Namespace' object is not iterable"),
        _ => throw new JinjaRuntimeError($"{usedBy}: '{JinjaValue.TypeName(value)}' object is not iterable"),
    };

    /// <summary>Attribute or key <paramref name="path"/> (dotted, as selectattr and map take it) of an item.</summary>
    public static object? Attribute(object? item, string path)
    {
        foreach (var part in path.Split('.'))
        {
            item = item switch
            {
                OrderedDictionary<string, object?> d => d.TryGetValue(part, out var value) ? value : new JinjaUndefined($"no attribute '{part}'"),
                JinjaNamespace ns => ns.Values.TryGetValue(part, out var value) ? value : new JinjaUndefined($"no attribute '{part}'"),
                List<object?> list when int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < list.Count => list[i],
                _ => new JinjaUndefined($"no attribute '{part}'"),
            };
        }
        return item;
    }

    public static IEnumerable<string> CodePoints(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                yield return s.Substring(i++, 2);
            }
            else
            {
                yield return s[i].ToString();
            }
        }
    }

    private static string Text(object? value) => value switch
    {
        string s => s,
        JinjaUndefined => "",
        _ => JinjaValue.ToText(value),
    };

    private static OrderedDictionary<string, object?> Dict(object? value, string usedBy) =>
        value as OrderedDictionary<string, object?> ?? (value is JinjaNamespace ns ? ns.Values : throw new JinjaRuntimeError($"{usedBy}: expected a dict, got {JinjaValue.TypeName(value)}"));

    private static List<object?> DictItems(OrderedDictionary<string, object?> dict) =>
        dict.Select(e => (object?)new List<object?> { e.Key, e.Value }).ToList();

    private static long Length(object? value) => value switch
    {
        string s => CodePoints(s).LongCount(),
        List<object?> list => list.Count,
        OrderedDictionary<string, object?> dict => dict.Count,
        JinjaUndefined => 0,
        _ => throw new JinjaRuntimeError($"object of type '{JinjaValue.TypeName(value)}' has no len()"),
    };

    private static object? Default(object? value, JinjaArguments args) =>
        value is JinjaUndefined || (args.GetBool(1, "boolean") && !JinjaValue.IsTrue(value)) ? args.Get(0, "default_value", "") : value;

    private static object? ToInteger(object? value, object? fallback) => value switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        double d => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => (long)Math.Truncate(d),
        _ => fallback,
    };

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long or bool or double => JinjaValue.ToDouble(value),
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => fallback,
    };

    private static (string, string)? Separators(object? value) => value switch
    {
        null or JinjaUndefined => null,
        List<object?> { Count: 2 } pair when pair[0] is string item && pair[1] is string key => (item, key),
        _ => throw new JinjaRuntimeError("tojson: separators must be a pair of strings"),
    };

    private static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? JinjaLexer.IsWhitespace : chars.Contains;
        int start = 0, end = s.Length;
        while (left && start < end && strip(s[start]))
        {
            start++;
        }
        while (right && end > start && strip(s[end - 1]))
        {
            end--;
        }
        return s[start..end];
    }

    // Python's str.split: no separator splits on whitespace runs and drops empty ends.
    private static List<object?> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            var rest = s.TrimStart();
            while (rest.Length > 0)
            {
                if (maxSplit >= 0 && parts.Count >= maxSplit)
                {
                    parts.Add(rest);
                    break;
                }
                var end = 0;
                while (end < rest.Length && !char.IsWhiteSpace(rest[end]))
                {
                    end++;
                }
                parts.Add(rest[..end]);
                rest = rest[end..].TrimStart();
            }
            return parts;
        }
        if (separator.Length == 0)
        {
            throw new JinjaRuntimeError("empty separator");
        }
        var from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    private static IEnumerable<string> Affixes(object? value) => value switch
    {
        string s => [s],
        List<object?> list => list.Select(i => i as string ?? throw new JinjaRuntimeError("startswith/endswith: tuple items must be strings")),
        _ => throw new JinjaRuntimeError($"startswith/endswith first arg must be str or a tuple of str, not {JinjaValue.TypeName(value)}"),
    };

    private static string Replace(string s, JinjaArguments args)
    {
        var old = args.GetString(0, "old") ?? throw new JinjaRuntimeError("replace: missing 'old'");
        var replacement = args.GetString(1, "new") ?? throw new JinjaRuntimeError("replace: missing 'new'");
        var count = args.GetInteger(2, "count", -1)!.Value;
        if (count < 0)
        {
            return old.Length == 0 ? InsertEverywhere(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        }
        var text = new StringBuilder();
        var from = 0;
        for (var done = 0; done < count && old.Length > 0; done++)
        {
            var at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }
            text.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return text.Append(s, from, s.Length - from).ToString();
    }

    private static string InsertEverywhere(string s, string insert) => insert + string.Concat(CodePoints(s).Select(c => c + insert));

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return CodePoints(s).Count() + 1;
        }
        var count = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    // Jinja's title filter: each word (split at whitespace, '-', and opening brackets) upper-cased first, rest lowered.
    private static string Title(string s) =>
        string.Concat(WordBoundary().Split(s).Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBoundary();

    private static string Indent(object? value, JinjaArguments args)
    {
        var width = args.Get(0, "width", 4L);
        var pad = width is string w ? w : new string(' ', (int)Math.Max(0, JinjaValue.ToDouble(width)));
        var first = args.GetBool(1, "first");
        var blank = args.GetBool(2, "blank");
        var lines = Text(value).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if ((i > 0 || first) && (blank || lines[i].Length > 0))
            {
                lines[i] = pad + lines[i];
            }
        }
        return string.Join('\n', lines);
    }

    private static object? Map(object? value, JinjaArguments args)
    {
        var items = Items(value, "map");
        if (args.Keywords.TryGetValue("attribute", out var attribute))
        {
            var path = attribute as string ?? JinjaValue.ToText(attribute);
            var fallback = args.Keywords.TryGetValue("default", out var d) ? d : null;
            return items.Select(i => Attribute(i, path) is JinjaUndefined u && args.Keywords.ContainsKey("default") ? fallback : Attribute(i, path)).ToList();
        }
        var filter = args.GetString(0, "filter") ?? throw new JinjaRuntimeError("map: give a filter name or attribute=");
        var rest = new JinjaArguments(args.Positional.Skip(1).ToList(), args.Keywords);
        return items.Select(i => ApplyFilter(filter, i, rest)).ToList();
    }

    // select/reject (test on the item) and selectattr/rejectattr (test on an attribute; no test = truthiness).
    private static object? Select(object? value, JinjaArguments args, bool attribute, bool keep)
    {
        var offset = attribute ? 1 : 0;
        var path = attribute ? args.GetString(0, "attribute") ?? throw new JinjaRuntimeError("selectattr/rejectattr: missing the attribute name") : null;
        var testName = args.Positional.Count > offset ? args.Positional[offset] as string : null;
        var testArgs = new JinjaArguments(args.Positional.Skip(offset + 1).ToList(), JinjaArguments.NoKeywords);
        return Items(value, attribute ? "selectattr" : "select").Where(item =>
        {
            var subject = path is null ? item : Attribute(item, path);
            var passed = testName is null ? JinjaValue.IsTrue(subject) : ApplyTest(testName, subject, testArgs);
            return passed == keep;
        }).ToList();
    }

    private static object? Sort(object? value, JinjaArguments args)
    {
        var reverse = args.GetBool(0, "reverse");
        var caseSensitive = args.GetBool(1, "case_sensitive");
        var attribute = args.Get(2, "attribute") is string a ? a : null;
        object? Key(object? item)
        {
            var key = attribute is null ? item : Attribute(item, attribute);
            return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
        }
        var sorted = Items(value, "sort").Select((item, index) => (item, index)).ToList();
        sorted.Sort((x, y) =>
        {
            var order = JinjaValue.Compare(Key(x.item), Key(y.item));
            return order != 0 ? (reverse ? -order : order) : x.index.CompareTo(y.index);
        });
        return sorted.Select(p => p.item).ToList();
    }
}

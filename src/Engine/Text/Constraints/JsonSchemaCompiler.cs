using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Distil.Engine.Text.Constraints;

/// <summary>
/// Turns a JSON schema into a <see cref="JsonGrammar"/> for compact JSON. Supported: object (properties +
/// required; the required properties are written in declared order, optional ones never), array (items,
/// minItems, maxItems), string (minLength, maxLength), integer (minimum, maximum, exclusive bounds), number,
/// boolean, null, enum, const, type lists and anyOf/oneOf whose alternatives start with different bytes.
/// Annotations (title, description, default, examples, $schema, $id, $comment) and additionalProperties are
/// accepted; anything else is refused with <see cref="JsonSchemaNotSupportedException"/>.
/// </summary>
internal sealed class JsonSchemaCompiler
{
    private static readonly HashSet<string> Annotations =
        ["title", "description", "default", "examples", "$schema", "$id", "$comment", "additionalProperties", "deprecated", "readOnly", "writeOnly"];

    private static readonly Dictionary<string, string[]> KeywordsByType = new()
    {
        ["object"] = ["properties", "required"],
        ["array"] = ["items", "minItems", "maxItems"],
        ["string"] = ["minLength", "maxLength"],
        ["integer"] = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"],
        ["number"] = [],
        ["boolean"] = [],
        ["null"] = [],
    };

    private static readonly JsonSerializerOptions RelaxedJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions CompactWriter = new() { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly List<GrammarNode> _nodes = [];
    private int _maxFrames;

    public static JsonGrammar Compile(JsonElement schema)
    {
        var compiler = new JsonSchemaCompiler();
        var root = compiler.Value(schema, "$", depth: 1);
        return new JsonGrammar(compiler._nodes.ToArray(), root, compiler._maxFrames + 1);
    }

    private int Value(JsonElement schema, string path, int depth)
    {
        _maxFrames = Math.Max(_maxFrames, depth);
        if (schema.ValueKind == JsonValueKind.True || (schema.ValueKind == JsonValueKind.Object && IsUnconstrained(schema)))
        {
            return AnyValue(AnyValueNesting, depth);
        }
        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new JsonSchemaNotSupportedException(path, $"a schema must be an object, not {schema.ValueKind}");
        }
        foreach (var property in schema.EnumerateObject())
        {
            var known = Annotations.Contains(property.Name) || property.Name is "type" or "enum" or "const" or "anyOf" or "oneOf"
                || KeywordsByType.Values.Any(k => k.Contains(property.Name));
            if (!known)
            {
                throw new JsonSchemaNotSupportedException($"{path}.{property.Name}", $"keyword \"{property.Name}\" is not supported by constrained decoding");
            }
        }
        if (schema.TryGetProperty("const", out var constant))
        {
            return Literals([constant], path);
        }
        if (schema.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
            {
                throw new JsonSchemaNotSupportedException($"{path}.enum", "enum must be a non-empty array");
            }
            return Literals(values.EnumerateArray().ToList(), $"{path}.enum");
        }
        var alternatives = schema.TryGetProperty("anyOf", out var anyOf) ? (anyOf, "anyOf")
            : schema.TryGetProperty("oneOf", out var oneOf) ? (oneOf, "oneOf")
            : (default(JsonElement), null);
        if (alternatives.Item2 is { } keyword)
        {
            var list = alternatives.Item1;
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            {
                throw new JsonSchemaNotSupportedException($"{path}.{keyword}", $"{keyword} must be a non-empty array of schemas");
            }
            var nodes = list.EnumerateArray().Select((alternative, i) => Value(alternative, $"{path}.{keyword}[{i}]", depth)).ToList();
            return AnyOf(nodes, $"{path}.{keyword}");
        }
        var types = Types(schema, path);
        if (types.Count == 1)
        {
            return Typed(schema, types[0], path, depth, checkKeywords: true);
        }
        return AnyOf(types.Select(t => Typed(schema, t, path, depth, checkKeywords: false)).ToList(), $"{path}.type");
    }

    private static List<string> Types(JsonElement schema, string path)
    {
        if (!schema.TryGetProperty("type", out var type))
        {
            // Infer the type from its keywords, as schemas generated from C# types sometimes omit it.
            if (schema.TryGetProperty("properties", out _))
            {
                return ["object"];
            }
            if (schema.TryGetProperty("items", out _))
            {
                return ["array"];
            }
            throw new JsonSchemaNotSupportedException(path, "no \"type\", \"enum\", \"const\" or \"anyOf\"; give the value a type (only the empty schema {} means any value)");
        }
        var names = type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array => type.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString()! : "?").ToList(),
            _ => ["?"],
        };
        foreach (var name in names)
        {
            if (!KeywordsByType.ContainsKey(name))
            {
                throw new JsonSchemaNotSupportedException($"{path}.type", $"unknown type \"{name}\"");
            }
        }
        return names;
    }

    private int Typed(JsonElement schema, string type, string path, int depth, bool checkKeywords)
    {
        foreach (var property in checkKeywords ? schema.EnumerateObject() : default)
        {
            var ownerType = KeywordsByType.FirstOrDefault(k => k.Value.Contains(property.Name)).Key;
            if (ownerType is not null && ownerType != type && !(ownerType == "integer" && type == "number"))
            {
                throw new JsonSchemaNotSupportedException($"{path}.{property.Name}", $"keyword \"{property.Name}\" does not apply to type {type}");
            }
        }
        return type switch
        {
            "object" when !schema.TryGetProperty("properties", out _) => FreeFormObject(schema, path, depth),
            "object" => Object(schema, path, depth),
            "array" when !schema.TryGetProperty("items", out _) => Array(schema, path, depth, AnyValue(AnyValueNesting - 1, depth + 1)),
            "array" => Array(schema, path, depth),
            "string" => Add(new GrammarNode
            {
                Kind = GrammarKind.String,
                MinChars = Count(schema, "minLength", path) ?? 0,
                MaxChars = Count(schema, "maxLength", path) ?? int.MaxValue,
            }),
            "integer" => Integer(schema, path),
            "number" => Number(schema, path),
            "boolean" => Literals([Parse("true"), Parse("false")], path),
            _ => Literals([Parse("null")], path),
        };
    }

    private int Object(JsonElement schema, string path, int depth)
    {
        var properties = schema.TryGetProperty("properties", out var p) ? p : default;
        if (properties.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined))
        {
            throw new JsonSchemaNotSupportedException($"{path}.properties", "properties must be an object");
        }
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var r))
        {
            if (r.ValueKind != JsonValueKind.Array || r.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            {
                throw new JsonSchemaNotSupportedException($"{path}.required", "required must be an array of property names");
            }
            foreach (var name in r.EnumerateArray().Select(e => e.GetString()!))
            {
                if (properties.ValueKind != JsonValueKind.Object || !properties.TryGetProperty(name, out _))
                {
                    throw new JsonSchemaNotSupportedException($"{path}.required", $"required property \"{name}\" is not in properties");
                }
                required.Add(name);
            }
        }
        var items = new List<SequenceItem>();
        var pending = new StringBuilder("{");
        if (properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in properties.EnumerateObject().Where(x => required.Contains(x.Name)))
            {
                if (items.Count > 0)
                {
                    pending.Append(',');
                }
                pending.Append(JsonSerializer.Serialize(property.Name, RelaxedJson)).Append(':');
                items.Add(new SequenceItem(Encoding.UTF8.GetBytes(pending.ToString()), -1));
                pending.Clear();
                items.Add(new SequenceItem(null, Value(property.Value, $"{path}.properties.{property.Name}", depth + 1)));
            }
        }
        pending.Append('}');
        items.Add(new SequenceItem(Encoding.UTF8.GetBytes(pending.ToString()), -1));
        var node = new GrammarNode { Kind = GrammarKind.Sequence, Items = items.ToArray() };
        node.SuffixMin = new int[items.Count + 1];
        for (var i = items.Count - 1; i >= 0; i--)
        {
            node.SuffixMin[i] = node.SuffixMin[i + 1] + (items[i].Literal?.Length ?? _nodes[items[i].Child].MinLength);
        }
        node.MinLength = node.SuffixMin[0];
        return Add(node);
    }

    private int Array(JsonElement schema, string path, int depth, int? anyItem = null)
    {
        var itemSchema = default(JsonElement);
        if (anyItem is null && (!schema.TryGetProperty("items", out itemSchema) || itemSchema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True)))
        {
            throw new JsonSchemaNotSupportedException($"{path}.items", "items must be a schema object");
        }
        var minItems = Count(schema, "minItems", path) ?? 0;
        var maxItems = Count(schema, "maxItems", path) ?? int.MaxValue;
        if (maxItems < minItems)
        {
            throw new JsonSchemaNotSupportedException($"{path}.maxItems", $"maxItems {maxItems} is below minItems {minItems}");
        }
        var child = anyItem ?? Value(itemSchema, $"{path}.items", depth + 1);
        var itemMin = _nodes[child].MinLength;
        return Add(new GrammarNode
        {
            Kind = GrammarKind.Array,
            Child = child,
            MinItems = minItems,
            MaxItems = maxItems,
            MinLength = 2 + (minItems == 0 ? 0 : minItems * itemMin + minItems - 1),
        });
    }

    /// <summary>How deep containers may nest in a value the schema leaves open (<c>{}</c>, JSON mode).</summary>
    private const int AnyValueNesting = 6;

    private static bool IsUnconstrained(JsonElement schema) => schema.EnumerateObject().All(p => Annotations.Contains(p.Name));

    /// <summary>
    /// Any JSON value with containers nested at most <paramref name="nesting"/> deep: alternatives told apart by
    /// their first byte (string, number, literal, object, array), with the containers' values one level shallower.
    /// </summary>
    private int AnyValue(int nesting, int depth)
    {
        _maxFrames = Math.Max(_maxFrames, depth + 2);
        var alternatives = new List<int>
        {
            Add(new GrammarNode { Kind = GrammarKind.String }),
            Add(new GrammarNode { Kind = GrammarKind.Number, MinLength = 1 }),
            Literals([Parse("true"), Parse("false"), Parse("null")], "$"),
        };
        if (nesting > 0)
        {
            var inner = AnyValue(nesting - 1, depth + 1);
            alternatives.Add(Map(inner, depth));
            alternatives.Add(Add(new GrammarNode { Kind = GrammarKind.Array, Child = inner, MinLength = 2 }));
        }
        return AnyOf(alternatives, "$");
    }

    /// <summary>An object without listed properties: string keys with values of additionalProperties' schema (any when absent; none when false).</summary>
    private int FreeFormObject(JsonElement schema, string path, int depth)
    {
        if (!schema.TryGetProperty("additionalProperties", out var values) || values.ValueKind == JsonValueKind.True)
        {
            return Map(AnyValue(AnyValueNesting - 1, depth + 1), depth);
        }
        return values.ValueKind == JsonValueKind.False
            ? Object(schema, path, depth)
            : Map(Value(values, $"{path}.additionalProperties", depth + 1), depth);
    }

    private int Map(int value, int depth)
    {
        _maxFrames = Math.Max(_maxFrames, depth + 1);
        var key = Add(new GrammarNode { Kind = GrammarKind.String });
        return Add(new GrammarNode { Kind = GrammarKind.Map, Key = key, Child = value, MinLength = 2 });
    }

    private int Integer(JsonElement schema, string path)
    {
        var min = Bound(schema, "minimum", path);
        var max = Bound(schema, "maximum", path);
        var exclusiveMin = Bound(schema, "exclusiveMinimum", path);
        var exclusiveMax = Bound(schema, "exclusiveMaximum", path);
        var low = Math.Max(min is { } a ? (long)Math.Ceiling(a) : long.MinValue, exclusiveMin is { } b ? (long)Math.Floor(b) + 1 : long.MinValue);
        var high = Math.Min(max is { } c ? (long)Math.Floor(c) : long.MaxValue, exclusiveMax is { } d ? (long)Math.Ceiling(d) - 1 : long.MaxValue);
        var range = new IntegerRange(low, high);
        if (range.Min > range.Max)
        {
            throw new JsonSchemaNotSupportedException(path, $"no integer lies in [{low}, {high}]");
        }
        return Add(new GrammarNode { Kind = GrammarKind.Integer, Range = range, MinLength = range.MinLength });
    }

    private int Number(JsonElement schema, string path)
    {
        foreach (var bound in new[] { "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum" })
        {
            if (schema.TryGetProperty(bound, out _))
            {
                throw new JsonSchemaNotSupportedException($"{path}.{bound}", $"\"{bound}\" is supported for integers only, not numbers");
            }
        }
        return Add(new GrammarNode { Kind = GrammarKind.Number, MinLength = 1 });
    }

    private int Literals(IReadOnlyList<JsonElement> values, string path)
    {
        var texts = new List<byte[]>();
        foreach (var value in values)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, CompactWriter))
            {
                value.WriteTo(writer);
            }
            var bytes = buffer.ToArray();
            if (!texts.Any(t => t.AsSpan().SequenceEqual(bytes)))
            {
                texts.Add(bytes);
            }
        }
        var trie = new LiteralTrie(texts);
        return Add(new GrammarNode { Kind = GrammarKind.Literals, Literals = trie, MinLength = trie.MinToEnd[0] });
    }

    private int AnyOf(List<int> alternatives, string path)
    {
        var byFirstByte = new int[256];
        System.Array.Fill(byFirstByte, -1);
        var grammar = new JsonGrammar(_nodes.ToArray(), 0, _maxFrames + 1);
        Span<GrammarFrame> stack = stackalloc GrammarFrame[_maxFrames + 2];
        foreach (var alternative in alternatives)
        {
            for (var b = 0; b < 256; b++)
            {
                var depth = 1;
                stack[0] = new GrammarFrame(alternative);
                if (!grammar.Feed(stack, ref depth, (byte)b))
                {
                    continue;
                }
                if (byFirstByte[b] >= 0 && byFirstByte[b] != alternative)
                {
                    throw new JsonSchemaNotSupportedException(path, $"two alternatives can both start with '{(char)b}'; only alternatives that begin differently (different types) are supported");
                }
                byFirstByte[b] = alternative;
            }
        }
        return Add(new GrammarNode
        {
            Kind = GrammarKind.AnyOf,
            Alternatives = alternatives.ToArray(),
            AlternativeByFirstByte = byFirstByte,
            MinLength = alternatives.Min(a => _nodes[a].MinLength),
        });
    }

    private int Add(GrammarNode node)
    {
        if (node.Kind == GrammarKind.String)
        {
            if (node.MaxChars < node.MinChars)
            {
                throw new JsonSchemaNotSupportedException("$", $"maxLength {node.MaxChars} is below minLength {node.MinChars}");
            }
            node.MinLength = 2 + node.MinChars;
        }
        _nodes.Add(node);
        return _nodes.Count - 1;
    }

    private static int? Count(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var count) && count >= 0
            ? count
            : throw new JsonSchemaNotSupportedException($"{path}.{keyword}", $"{keyword} must be a non-negative integer");
    }

    private static double? Bound(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number
            ? value.GetDouble()
            : throw new JsonSchemaNotSupportedException($"{path}.{keyword}", $"{keyword} must be a number");
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// Maps JSON paths (<c>$.steps[2].type</c>) to 1-based line numbers. System.Text.Json's DOM forgets
/// positions, so one pass of <see cref="Utf8JsonReader"/> records where each property and array element starts.
/// </summary>
internal sealed class JsonLineMap
{
    private readonly Dictionary<string, long> _lines = new(StringComparer.Ordinal);

    private JsonLineMap() { }

    public long? LineOf(string path) => _lines.TryGetValue(path, out var line) ? line : null;

    /// <summary>Strings and keys that hold a lone surrogate or a NUL: (JSON path, line, what is wrong).</summary>
    public List<(string Path, long Line, string Problem)> BadStrings { get; } = [];

    public static JsonLineMap Build(byte[] utf8)
    {
        var map = new JsonLineMap();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = DefinitionLimits.MaxDepth });
        var frames = new List<Frame>();
        long line = 1;
        long counted = 0;

        long LineAt(long index)
        {
            // Lines are counted incrementally: tokens arrive in increasing order.
            line += utf8.AsSpan((int)counted, (int)(index - counted)).Count((byte)'\n');
            counted = index;
            return line;
        }

        string ValuePath(long index)
        {
            if (frames.Count == 0)
            {
                map._lines.TryAdd("$", LineAt(index));
                return "$";
            }

            var top = frames[^1];
            if (!top.IsArray)
            {
                return top.PendingProperty ?? top.Path;
            }

            var path = $"{top.Path}[{top.Index}]";
            top.Index++;
            map._lines[path] = LineAt(index);
            return path;
        }

        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var top = frames[^1];
                        top.PendingProperty = $"{top.Path}.{DefinitionStrings.Name(ref reader)}";
                        map._lines[top.PendingProperty] = LineAt(reader.TokenStartIndex);
                        if (DefinitionStrings.Problem(ref reader) is { } keyProblem)
                        {
                            map.BadStrings.Add((top.PendingProperty, line, $"a key holds {keyProblem}"));
                        }

                        break;
                    case JsonTokenType.String:
                        var stringPath = ValuePath(reader.TokenStartIndex);
                        if (DefinitionStrings.Problem(ref reader) is { } valueProblem)
                        {
                            map.BadStrings.Add((stringPath, LineAt(reader.TokenStartIndex), $"a string holds {valueProblem}"));
                        }

                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        frames.Add(new Frame(ValuePath(reader.TokenStartIndex), reader.TokenType == JsonTokenType.StartArray));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        break;
                    default:
                        ValuePath(reader.TokenStartIndex);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Syntax errors are reported by the parser with their own position; the map keeps what it saw.
        }

        return map;
    }

    private sealed class Frame(string path, bool isArray)
    {
        public string Path { get; } = path;

        public bool IsArray { get; } = isArray;

        public int Index { get; set; }

        public string? PendingProperty { get; set; }
    }
}

using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// The parameters of one step as written in the definition, with typed getters whose errors name the
/// file, line and JSON path of the offending value.
/// </summary>
public sealed class StepParameters
{
    private readonly JsonElement _step;
    private readonly Func<string, long?> _lineOf;
    private readonly Dictionary<string, object> _defaultsUsed = new(StringComparer.Ordinal);

    /// <param name="step">The step's JSON object.</param>
    /// <param name="jsonPath">Path of that object in the file, e.g. <c>$.steps[2]</c>.</param>
    /// <param name="file">The definition file, for error messages.</param>
    /// <param name="lineOf">Maps a JSON path to its line in the file (null when unknown).</param>
    public StepParameters(JsonElement step, string jsonPath, string? file, Func<string, long?> lineOf)
    {
        _step = step;
        JsonPath = jsonPath;
        File = file;
        _lineOf = lineOf;
        Name = step.ValueKind == JsonValueKind.Object && step.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : jsonPath;
    }

    public string Name { get; }

    public string JsonPath { get; }

    public string? File { get; }

    /// <summary>Directory of the definition file; relative paths in parameters resolve against it.</summary>
    public string BaseDirectory => File is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(Path.GetFullPath(File))!;

    public JsonElement Element => _step;

    public static readonly IReadOnlyDictionary<string, string> NoInputCopies = new Dictionary<string, string>();

    /// <summary>
    /// Local copies of input files by the full path the definition names: a loader reads the copy when that path does
    /// not exist here. Error messages keep naming the definition's path.
    /// </summary>
    public IReadOnlyDictionary<string, string> InputCopies { get; init; } = NoInputCopies;

    public bool Has(string name) => Get(name) is not null;

    public JsonElement? Get(string name) =>
        _step.ValueKind == JsonValueKind.Object && _step.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string RequireString(string name) =>
        GetString(name) ?? throw Error(name, $"step '{Name}' needs the parameter '{name}'");

    public string? GetString(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw Error(name, $"'{name}' must be a string, not {Shown(name)}"),
    };

    /// <summary>
    /// Defaults the step took for parameters the definition leaves out (read through the typed getters), so a
    /// step's cache key covers its effective settings: a default changed in a new release is a new key.
    /// </summary>
    public IReadOnlyDictionary<string, object> DefaultsUsed => _defaultsUsed;

    private T Default<T>(string name, T fallback)
        where T : notnull
    {
        _defaultsUsed[name] = fallback;
        return fallback;
    }

    /// <summary>An integer parameter, range-checked (never cast): a value outside [min, max] is a located error saying what is accepted.</summary>
    public long GetInt64(string name, long fallback, long min = long.MinValue, long max = long.MaxValue) => Get(name) switch
    {
        null => Default(name, fallback),
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out var i) && i >= min && i <= max => i,
        _ => throw Error(name, $"'{name}' must be an integer{Range(min, max)}, not {Shown(name)}"),
    };

    public int GetInt32(string name, int fallback, int min = int.MinValue, int max = int.MaxValue) => (int)GetInt64(name, fallback, min, max);

    public double GetDouble(string name, double fallback, double min = double.MinValue, double max = double.MaxValue) => Get(name) switch
    {
        null => Default(name, fallback),
        { ValueKind: JsonValueKind.Number } v when v.TryGetDouble(out var d) && double.IsFinite(d) && d >= min && d <= max => d,
        _ => throw Error(name, $"'{name}' must be a number{Range(min, max)}, not {Shown(name)}"),
    };

    public bool GetBoolean(string name, bool fallback) => Get(name) switch
    {
        null => Default(name, fallback),
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw Error(name, $"'{name}' must be true or false"),
    };

    public IReadOnlyList<string>? GetStringList(string name)
    {
        var value = Get(name);
        if (value is null)
        {
            return null;
        }

        if (value.Value.ValueKind == JsonValueKind.String)
        {
            return [value.Value.GetString()!];
        }

        if (value.Value.ValueKind != JsonValueKind.Array || value.Value.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            throw Error(name, $"'{name}' must be a list of strings");
        }

        return value.Value.EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    /// <summary>A parameter that is a path, resolved against the definition file's folder.</summary>
    public string? GetPath(string name) => GetString(name) switch
    {
        null => null,
        var p when string.IsNullOrWhiteSpace(p) => throw Error(name, $"'{name}' is empty; give a path (relative paths start at the definition's folder)"),
        var p => Path.GetFullPath(Path.Combine(BaseDirectory, p)),
    };

    /// <summary>
    /// A sink's file name (relative to the output folder): it must name a file, so "", ".", ".." and names ending
    /// in a separator are refused here rather than failing the run with "Is a directory".
    /// </summary>
    public string GetOutputFileName(string name, string fallback)
    {
        var value = GetString(name);
        if (value is null)
        {
            return fallback;
        }

        var last = Path.GetFileName(value.TrimEnd());
        if (string.IsNullOrWhiteSpace(value) || last.Length == 0 || last is "." or "..")
        {
            throw Error(name, $"'{name}' must name a file inside the output folder, e.g. \"{fallback}\", not {PipelineDefinitionException.Quote(value)}");
        }

        return value;
    }

    /// <summary>The value of <paramref name="name"/> as written, cut for a message.</summary>
    private string Shown(string name) => Get(name) is not { } v ? "nothing"
        : v.ValueKind == JsonValueKind.String ? PipelineDefinitionException.Quote(v.GetString())
        : v.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? $"an {(v.ValueKind == JsonValueKind.Object ? "object" : "array")}"
        : PipelineDefinitionException.Quote(v.GetRawText());

    private static string Range(double min, double max)
    {
        var text = (min <= int.MinValue, max >= int.MaxValue) switch
        {
            (true, true) => min == int.MinValue && max == int.MaxValue ? $"from {min} to {max}" : string.Empty,
            (true, false) => $"of at most {max}",
            (false, true) => max == int.MaxValue ? $"from {min} to {max}" : $"of at least {min}",
            _ => $"from {min} to {max}",
        };
        return text.Length == 0 ? text : string.Create(System.Globalization.CultureInfo.InvariantCulture, $" {text}");
    }

    /// <summary>Deserializes a parameter (an object of options, say) with snake_case names.</summary>
    public T? Get<T>(string name)
    {
        var value = Get(name);
        if (value is null)
        {
            return default;
        }

        try
        {
            return value.Value.Deserialize<T>(SnakeCaseJson.Options);
        }
        catch (JsonException e)
        {
            // The serializer's message names .NET types; say it in the definition's terms instead.
            const string unmapped = "The JSON property '";
            var inner = e.Path is { Length: > 1 } p ? $"{name}{p[1..]}" : name;
            var unknown = e.Message.StartsWith(unmapped, StringComparison.Ordinal) ? e.Message[unmapped.Length..].Split('\'')[0] : null;
            throw unknown is not null
                ? Error(name, $"'{name}' has no key {PipelineDefinitionException.Quote(unknown)}")
                : Error(inner, $"'{inner}' has a value of the wrong type (or out of range); see the step's documentation for what it takes");
        }
    }

    /// <summary>An error about parameter <paramref name="name"/> (or the step itself when null).</summary>
    public PipelineDefinitionException Error(string? name, string message)
    {
        var path = name is null ? JsonPath : $"{JsonPath}.{name}";
        return new PipelineDefinitionException(message, File, _lineOf(path) ?? _lineOf(JsonPath), path);
    }
}

/// <summary>JSON options shared by definitions, manifests and cached batches: snake_case, comments and trailing commas allowed.</summary>
public static class SnakeCaseJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };
}

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
        Name = step.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : jsonPath;
    }

    public string Name { get; }

    public string JsonPath { get; }

    public string? File { get; }

    /// <summary>Directory of the definition file; relative paths in parameters resolve against it.</summary>
    public string BaseDirectory => File is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(Path.GetFullPath(File))!;

    public JsonElement Element => _step;

    public bool Has(string name) => _step.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string name) =>
        _step.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string RequireString(string name) =>
        GetString(name) ?? throw Error(name, $"step '{Name}' needs the parameter '{name}'");

    public string? GetString(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw Error(name, $"'{name}' must be a string"),
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

    public long GetInt64(string name, long fallback) => Get(name) switch
    {
        null => Default(name, fallback),
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out var i) => i,
        _ => throw Error(name, $"'{name}' must be an integer"),
    };

    public int GetInt32(string name, int fallback) => checked((int)GetInt64(name, fallback));

    public double GetDouble(string name, double fallback) => Get(name) switch
    {
        null => Default(name, fallback),
        { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
        _ => throw Error(name, $"'{name}' must be a number"),
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
    public string? GetPath(string name) => GetString(name) is { } p ? Path.GetFullPath(Path.Combine(BaseDirectory, p)) : null;

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
            throw Error(name, $"'{name}' is not valid: {e.Message}");
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

namespace Distil.Engine.Text.Jinja;

/// <summary>The evaluated arguments of a call, filter or test, read Python-style: by position, else by keyword.</summary>
internal sealed class JinjaArguments(IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> keywords)
{
    public static readonly IReadOnlyDictionary<string, object?> NoKeywords = new Dictionary<string, object?>();

    public static JinjaArguments Empty { get; } = new([], NoKeywords);

    public IReadOnlyList<object?> Positional { get; } = positional;

    public IReadOnlyDictionary<string, object?> Keywords { get; } = keywords;

    public bool Has(int index, string name) => index < Positional.Count || Keywords.ContainsKey(name);

    public object? Get(int index, string name, object? fallback = null) =>
        index < Positional.Count ? Positional[index] : Keywords.TryGetValue(name, out var value) ? value : fallback;

    public string? GetString(int index, string name, string? fallback = null) => Get(index, name, fallback) switch
    {
        null or JinjaUndefined => fallback,
        string s => s,
        var other => throw new JinjaRuntimeError($"argument '{name}' must be a string, got {JinjaValue.TypeName(other)}"),
    };

    public long? GetInteger(int index, string name, long? fallback = null) => Get(index, name, fallback) switch
    {
        null or JinjaUndefined => fallback,
        long l => l,
        bool b => b ? 1 : 0,
        var other => throw new JinjaRuntimeError($"argument '{name}' must be an integer, got {JinjaValue.TypeName(other)}"),
    };

    public bool GetBool(int index, string name, bool fallback = false) => Get(index, name, fallback) switch
    {
        null or JinjaUndefined => fallback,
        var value => JinjaValue.IsTrue(value),
    };
}

namespace Distil.Pipeline;

/// <summary>
/// One record flowing through a pipeline. <see cref="Id"/> is the row's position in its source
/// and never changes, which is what lets branches be joined and runs be resumed exactly once.
/// Column values are one of: <c>null</c>, <see cref="string"/>, <see cref="long"/>, <see cref="double"/>,
/// <see cref="bool"/>, <see cref="IReadOnlyList{T}"/> of values (lists), or
/// <see cref="IReadOnlyDictionary{TKey,TValue}"/> of string to value (structs, e.g. a chat message
/// <c>{role, content}</c>). Nothing else is stored, so every step and sink can rely on that set.
/// </summary>
public sealed class Row
{
    /// <summary>Column that carries a row-level failure message; a row with it set is passed on untouched by later tasks.</summary>
    public const string ErrorColumn = "distil_error";

    private readonly Dictionary<string, object?> _values;

    public Row(long id) : this(id, new Dictionary<string, object?>(StringComparer.Ordinal)) { }

    public Row(long id, IEnumerable<KeyValuePair<string, object?>> values)
        : this(id, new Dictionary<string, object?>(values, StringComparer.Ordinal)) { }

    private Row(long id, Dictionary<string, object?> values)
    {
        Id = id;
        _values = values;
    }

    public long Id { get; }

    public object? this[string column]
    {
        get => _values.TryGetValue(column, out var value) ? value : null;
        set => _values[column] = value;
    }

    public IReadOnlyDictionary<string, object?> Values => _values;

    public IEnumerable<string> Columns => _values.Keys;

    public bool Has(string column) => _values.ContainsKey(column);

    public bool Remove(string column) => _values.Remove(column);

    public bool HasError => _values.TryGetValue(ErrorColumn, out var e) && e is not null;

    public string? GetString(string column) => this[column] as string;

    public Row Clone() => new(Id, new Dictionary<string, object?>(_values, StringComparer.Ordinal));

    public override string ToString() => $"Row {Id} [{string.Join(", ", _values.Keys)}]";
}

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

    // Set on a step's view of a row (see ColumnView): names are translated, the values are the row's own.
    private readonly ColumnView? _view;
    private bool[]? _written;

    public Row(long id) : this(id, new Dictionary<string, object?>(StringComparer.Ordinal)) { }

    public Row(long id, IEnumerable<KeyValuePair<string, object?>> values)
        : this(id, new Dictionary<string, object?>(values, StringComparer.Ordinal)) { }

    private Row(long id, Dictionary<string, object?> values, ColumnView? view = null, bool[]? written = null)
    {
        Id = id;
        _values = values;
        _view = view;
        _written = written;
    }

    public long Id { get; }

    public object? this[string column]
    {
        get => TryGet(column, out var value) ? value : null;
        set => _values[_view is null ? column : _view.WriteName(column, ref _written)] = value;
    }

    public IReadOnlyDictionary<string, object?> Values => _view is null ? _values : new ViewValues(this);

    public IEnumerable<string> Columns => _view is null ? _values.Keys : _view.StepColumns(_values.Keys, _written);

    public bool Has(string column) => TryGet(column, out _);

    public bool Remove(string column) => RowName(column) is { } name && _values.Remove(name);

    public bool HasError => _values.TryGetValue(ErrorColumn, out var e) && e is not null;

    public string? GetString(string column) => this[column] as string;

    /// <summary>A copy with its own values (a view's copy is a view of the copied values).</summary>
    public Row Clone() => new(Id, new Dictionary<string, object?>(_values, StringComparer.Ordinal), _view, (bool[]?)_written?.Clone());

    public override string ToString() => $"Row {Id} [{string.Join(", ", Columns)}]";

    /// <summary>This row as a step with mapped columns sees it: its values, not a copy, under the step's names.</summary>
    internal Row ViewAs(ColumnView view) => new(Id, _values, view);

    /// <summary>The row behind a view of <paramref name="view"/> (its values under the row's names); null when this row is not such a view.</summary>
    internal Row? Unview(ColumnView view) => _view == view ? new Row(Id, _values) : null;

    private string? RowName(string column) => _view is null ? column : _view.ReadName(column, _written);

    private bool TryGet(string column, out object? value)
    {
        if (RowName(column) is { } name)
        {
            return _values.TryGetValue(name, out value);
        }

        value = null;
        return false;
    }

    /// <summary>A view's values under the step's names, read through the view on each access.</summary>
    private sealed class ViewValues(Row row) : IReadOnlyDictionary<string, object?>
    {
        public object? this[string key] => row.TryGet(key, out var value) ? value : throw new KeyNotFoundException($"row {row.Id} has no column '{key}'");

        public IEnumerable<string> Keys => row.Columns;

        public IEnumerable<object?> Values => Keys.Select(k => row[k]);

        public int Count => Keys.Count();

        public bool ContainsKey(string key) => row.Has(key);

        public bool TryGetValue(string key, out object? value) => row.TryGet(key, out value);

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() =>
            Keys.Select(k => KeyValuePair.Create(k, row[k])).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

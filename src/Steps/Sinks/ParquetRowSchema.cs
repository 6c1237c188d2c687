using Parquet.Schema;

namespace Distil.Steps;

/// <summary>
/// Infers a Parquet schema from row values and converts rows to the shape Parquet.Net's untyped writer takes.
/// Every field is nullable. Strings are UTF8 strings, integers INT64, floats DOUBLE, bools BOOLEAN, lists are
/// Parquet LISTs and dictionaries (chat messages {role, content}) are structs, so a column of message lists is
/// a LIST of STRUCTs. A value that does not fit the schema (a string where earlier rows had numbers) is an
/// error naming the column.
/// </summary>
internal sealed class ParquetRowSchema
{
    private readonly IReadOnlyList<(string Column, Shape Shape)> _columns;

    private ParquetRowSchema(IReadOnlyList<(string, Shape)> columns, ParquetSchema schema)
    {
        _columns = columns;
        Schema = schema;
    }

    public ParquetSchema Schema { get; }

    public IEnumerable<string> Columns => _columns.Select(c => c.Column);

    /// <summary>Builds the schema from sample rows: columns in first-seen order, each typed by its non-null values.</summary>
    public static ParquetRowSchema Infer(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        var shapes = new Dictionary<string, Shape>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var row in rows)
        {
            foreach (var (column, value) in row)
            {
                if (!shapes.TryGetValue(column, out var shape))
                {
                    order.Add(column);
                    shapes[column] = Shape.Unknown;
                    shape = Shape.Unknown;
                }

                shapes[column] = Shape.Merge(shape, Shape.Of(value), column);
            }
        }

        var columns = order.Select(c => (c, shapes[c].Settled())).ToList();
        return new ParquetRowSchema(columns, new ParquetSchema(columns.Select(c => c.Item2.ToField(c.c))));
    }

    /// <summary>A schema for columns whose values were never seen: each a nullable string.</summary>
    public static ParquetRowSchema AllStrings(IReadOnlyList<string> columns)
    {
        var shaped = columns.Select(c => (c, Shape.Unknown.Settled())).ToList();
        return new ParquetRowSchema(shaped, new ParquetSchema(shaped.Select(c => c.Item2.ToField(c.c))));
    }

    /// <summary>The row as the untyped writer wants it; throws <see cref="InvalidDataException"/> naming the column on a type conflict.</summary>
    public Dictionary<string, object?> ToParquet(IReadOnlyDictionary<string, object?> row, long rowId)
    {
        foreach (var column in row.Keys)
        {
            if (!_columns.Any(c => c.Column == column))
            {
                throw new InvalidDataException($"row {rowId} has column '{column}', which the first rows did not have (the Parquet schema is fixed by the first row group); make every row carry it, even as null");
            }
        }

        var result = new Dictionary<string, object?>(_columns.Count, StringComparer.Ordinal);
        foreach (var (column, shape) in _columns)
        {
            row.TryGetValue(column, out var value);
            result[column] = shape.Convert(value, column, rowId, inList: false);
        }

        return result;
    }

    /// <summary>The type of a column: a primitive, a list of a shape, or a struct of named shapes.</summary>
    private sealed record Shape(ShapeKind Kind, Shape? Element = null, IReadOnlyList<(string Name, Shape Shape)>? Members = null)
    {
        public static readonly Shape Unknown = new(ShapeKind.Unknown);

        public static Shape Of(object? value) => value switch
        {
            null => Unknown,
            string => new Shape(ShapeKind.String),
            long or int => new Shape(ShapeKind.Int64),
            double or float => new Shape(ShapeKind.Double),
            bool => new Shape(ShapeKind.Boolean),
            IReadOnlyDictionary<string, object?> dict => new Shape(ShapeKind.Struct, Members: dict.Select(kv => (kv.Key, Of(kv.Value))).ToList()),
            IEnumerable<object?> list => new Shape(ShapeKind.List, Element: list.Aggregate(Unknown, (s, v) => Merge(s, Of(v), "list element"))),
            _ => throw new InvalidDataException($"cannot write a value of type {value.GetType().Name} to Parquet"),
        };

        public static Shape Merge(Shape a, Shape b, string column)
        {
            if (a.Kind == ShapeKind.Unknown)
            {
                return b;
            }

            if (b.Kind == ShapeKind.Unknown)
            {
                return a;
            }

            if (a.Kind != b.Kind)
            {
                // Integers and floats in one column are floats (JSON writes 1.0 as 1 in many tools).
                if (a.Kind is ShapeKind.Int64 or ShapeKind.Double && b.Kind is ShapeKind.Int64 or ShapeKind.Double)
                {
                    return new Shape(ShapeKind.Double);
                }

                throw new InvalidDataException($"column '{column}' holds both {a.Describe()} and {b.Describe()} values; a Parquet column has one type");
            }

            return a.Kind switch
            {
                ShapeKind.List => new Shape(ShapeKind.List, Element: Merge(a.Element!, b.Element!, column)),
                ShapeKind.Struct => new Shape(ShapeKind.Struct, Members: MergeMembers(a.Members!, b.Members!, column)),
                _ => a,
            };
        }

        private static List<(string, Shape)> MergeMembers(IReadOnlyList<(string Name, Shape Shape)> a, IReadOnlyList<(string Name, Shape Shape)> b, string column)
        {
            var merged = a.ToList();
            foreach (var (name, shape) in b)
            {
                var at = merged.FindIndex(m => m.Item1 == name);
                if (at < 0)
                {
                    merged.Add((name, shape));
                }
                else
                {
                    merged[at] = (name, Merge(merged[at].Item2, shape, $"{column}.{name}"));
                }
            }

            return merged;
        }

        /// <summary>A column only ever null is written as strings.</summary>
        public Shape Settled() => Kind switch
        {
            ShapeKind.Unknown => new Shape(ShapeKind.String),
            ShapeKind.List => this with { Element = Element!.Settled() },
            ShapeKind.Struct => this with { Members = Members!.Select(m => (m.Name, m.Shape.Settled())).ToList() },
            _ => this,
        };

        public Field ToField(string name) => Kind switch
        {
            ShapeKind.String => new DataField<string>(name, true),
            ShapeKind.Int64 => new DataField<long?>(name),
            ShapeKind.Double => new DataField<double?>(name),
            ShapeKind.Boolean => new DataField<bool?>(name),
            ShapeKind.List when Element!.Kind == ShapeKind.List => throw new InvalidDataException($"column '{name}' holds lists of lists, which the Parquet writer does not support; wrap the inner lists in objects"),
            ShapeKind.List => new ListField(name, Element.ToField("element")),
            ShapeKind.Struct => new StructField(name, Members!.Select(m => m.Shape.ToField(m.Name)).ToArray()),
            _ => throw new InvalidOperationException(),
        };

        public object? Convert(object? value, string column, long rowId, bool inList)
        {
            if (value is null)
            {
                return null;
            }

            switch (Kind)
            {
                case ShapeKind.String when value is string s:
                    // The untyped writer takes list elements of strings as ReadOnlyMemory<char>.
                    return inList ? s.AsMemory() : s;
                case ShapeKind.Int64 when value is long or int:
                    return System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
                case ShapeKind.Double when value is double or float or long or int:
                    return System.Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
                case ShapeKind.Boolean when value is bool:
                    return value;
                case ShapeKind.Struct when value is IReadOnlyDictionary<string, object?> dict:
                    var members = new Dictionary<string, object?>(StringComparer.Ordinal);
                    foreach (var key in dict.Keys.Where(k => !Members!.Any(m => m.Name == k)))
                    {
                        throw new InvalidDataException($"row {rowId}: column '{column}' has a field '{key}' that the first rows did not have");
                    }

                    foreach (var (name, shape) in Members!)
                    {
                        members[name] = shape.Convert(dict.GetValueOrDefault(name), $"{column}.{name}", rowId, inList: false);
                    }

                    return members;
                case ShapeKind.List when value is IEnumerable<object?> list:
                    return Element!.Kind switch
                    {
                        ShapeKind.String => list.Select(v => (ReadOnlyMemory<char>?)Element.Convert(v, column, rowId, inList: true)).ToList(),
                        ShapeKind.Int64 => list.Select(v => (long?)Element.Convert(v, column, rowId, inList: true)).ToList(),
                        ShapeKind.Double => list.Select(v => (double?)Element.Convert(v, column, rowId, inList: true)).ToList(),
                        ShapeKind.Boolean => list.Select(v => (bool?)Element.Convert(v, column, rowId, inList: true)).ToList(),
                        ShapeKind.Struct => list.Select(v => (Dictionary<string, object?>?)Element.Convert(v, column, rowId, inList: true)).ToList(),
                        _ => throw new InvalidOperationException(),
                    };
                default:
                    throw new InvalidDataException($"row {rowId}: column '{column}' is {Describe()} (fixed by the first rows) but this row has {Of(value).Describe()}");
            }
        }

        public string Describe() => Kind switch
        {
            ShapeKind.String => "string",
            ShapeKind.Int64 => "integer",
            ShapeKind.Double => "float",
            ShapeKind.Boolean => "boolean",
            ShapeKind.List => $"list of {Element!.Describe()}",
            ShapeKind.Struct => "object",
            _ => "null",
        };
    }

    private enum ShapeKind
    {
        Unknown,
        String,
        Int64,
        Double,
        Boolean,
        List,
        Struct,
    }
}

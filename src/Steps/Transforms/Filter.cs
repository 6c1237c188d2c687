using System.Globalization;
using System.Text.Json;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// filter: keeps rows where <c>column op value</c> holds. Ops: eq, ne, gt, lt, ge, le (numbers compare as
/// numbers, strings ordinally), contains (substring of a string, or element of a list), not_null.
/// Rows that fail the test are dropped and counted as <c>filtered</c>.
/// </summary>
internal sealed class Filter : IBatchStep
{
    public const string Filtered = "filtered";

    private static readonly string[] Ops = ["eq", "ne", "gt", "lt", "ge", "le", "contains", "not_null"];

    private readonly string _column;
    private readonly string _op;
    private readonly object? _value;

    public Filter(StepParameters parameters)
    {
        Name = parameters.Name;
        _column = parameters.RequireString("column");
        _op = parameters.RequireString("op");
        if (!Ops.Contains(_op))
        {
            throw parameters.Error("op", $"unknown op '{_op}'; use one of: {string.Join(", ", Ops)}");
        }

        if (_op != "not_null")
        {
            if (parameters.Get("value") is not { } value)
            {
                throw parameters.Error("value", $"op '{_op}' needs a 'value'");
            }

            if (value.ValueKind is JsonValueKind.Array or JsonValueKind.Object)
            {
                throw parameters.Error("value", "'value' must be a string, number or boolean");
            }

            _value = RowJson.ToValue(value);
            if (_op is "gt" or "lt" or "ge" or "le" && _value is bool)
            {
                throw parameters.Error("value", $"op '{_op}' compares numbers or strings");
            }
        }
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [_column];

    public IReadOnlyList<string> OutputColumns => [];

    public bool CachesBatches => false;

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var kept = new List<Row>(rows.Count);
        foreach (var row in rows)
        {
            if (Matches(row[_column]))
            {
                kept.Add(row);
            }
            else
            {
                context.CountDropped(Filtered);
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(kept);
    }

    internal bool Matches(object? actual)
    {
        if (_op == "not_null")
        {
            return actual is not null;
        }

        if (_op == "contains")
        {
            return actual switch
            {
                string s when _value is string v => s.Contains(v, StringComparison.Ordinal),
                IEnumerable<object?> list => list.Any(item => Compare(item, _value) == 0),
                _ => false,
            };
        }

        var order = Compare(actual, _value);
        return _op switch
        {
            "eq" => order == 0,
            "ne" => order != 0,
            "gt" => order is > 0 and not int.MaxValue,
            "lt" => order is < 0,
            "ge" => order is >= 0 and not int.MaxValue,
            "le" => order is <= 0 and not int.MinValue,
            _ => false,
        };
    }

    /// <summary>Orders two values; values of different kinds (or a null) are "unordered": MaxValue, never equal, never less.</summary>
    private static int Compare(object? a, object? b)
    {
        if (a is null || b is null)
        {
            return int.MaxValue;
        }

        if (IsNumber(a) && IsNumber(b))
        {
            return Convert.ToDouble(a, CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(b, CultureInfo.InvariantCulture));
        }

        return (a, b) switch
        {
            (string x, string y) => Math.Sign(string.CompareOrdinal(x, y)),
            (bool x, bool y) => x == y ? 0 : int.MaxValue,
            _ => int.MaxValue,
        };
    }

    private static bool IsNumber(object value) => value is long or double or int;
}

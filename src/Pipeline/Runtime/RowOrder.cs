namespace Distil.Pipeline.Runtime;

/// <summary>Keeps batches in ascending row id order, which the fan-in join and resume rely on.</summary>
internal static class RowOrder
{
    public static Row[] Merge(IReadOnlyList<Row> result, List<Row>? extra, string stepName)
    {
        var merged = new Row[result.Count + (extra?.Count ?? 0)];
        for (var i = 0; i < result.Count; i++)
        {
            merged[i] = result[i];
        }

        extra?.CopyTo(merged, result.Count);
        if (!IsAscending(merged))
        {
            Array.Sort(merged, (a, b) => a.Id.CompareTo(b.Id));
            if (!IsAscending(merged))
            {
                throw new InvalidOperationException($"step '{stepName}' returned row id {Duplicate(merged)} more than once");
            }
        }

        return merged;
    }

    private static bool IsAscending(Row[] rows)
    {
        for (var i = 1; i < rows.Length; i++)
        {
            if (rows[i].Id <= rows[i - 1].Id)
            {
                return false;
            }
        }

        return true;
    }

    private static long Duplicate(Row[] rows)
    {
        for (var i = 1; i < rows.Length; i++)
        {
            if (rows[i].Id == rows[i - 1].Id)
            {
                return rows[i].Id;
            }
        }

        return -1;
    }
}

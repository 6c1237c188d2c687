namespace Distil.Pipeline.Runtime;

/// <summary>
/// In a plan (<see cref="RunOptions.Plan"/>), rows whose batch would have to be computed carry this error
/// downstream: steps skip them like failed rows, and a caching step that receives one knows its batch is
/// work to do without looking for it in the cache.
/// </summary>
internal static class PlanPending
{
    private const string Marker = "(plan) computed by an earlier step when the run happens";

    public static bool Is(Row row) => row[Row.ErrorColumn] is Marker;

    public static Row[] Mark(Row[] rows)
    {
        foreach (var row in rows)
        {
            row[Row.ErrorColumn] ??= Marker;
        }

        return rows;
    }
}

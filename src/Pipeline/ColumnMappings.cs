namespace Distil.Pipeline;

/// <summary>
/// Applies a step's <c>input_mappings</c> ({step_column: row_column}) and <c>output_mappings</c>
/// ({step_column: new_name}) to column lists when validating, and to rows when running: a step reads the rows it is
/// given through a <see cref="ColumnView"/> (nothing renamed), and rows it makes itself are renamed to the row's names.
/// </summary>
internal static class ColumnMappings
{
    /// <summary>The row columns a step needs.</summary>
    public static IEnumerable<string> RequiredRowColumns(StepDefinition step) =>
        step.Step.InputColumns.Select(c => step.InputMappings.TryGetValue(c, out var row) ? row : c);

    /// <summary>Columns after the step, given the row columns before it.</summary>
    public static IReadOnlyList<string> ColumnsAfter(StepDefinition step, IReadOnlyList<string> available)
    {
        var view = available.Select(c => StepNameOf(step, c)).ToList();
        var after = step.Step.ColumnsAfter(view);
        return after.Select(c => RowNameAfter(step, c)).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Row column names as the step sees them (input_mappings applied).</summary>
    public static IReadOnlyList<string> StepView(StepDefinition step, IReadOnlyList<string> rowColumns) =>
        rowColumns.Select(c => StepNameOf(step, c)).ToList();

    /// <summary>The row a step handed back, under the row's names: the row behind the step's view of it, or a row the step made.</summary>
    public static Row FromStep(StepDefinition step, ColumnView? view, Row row)
    {
        if (view is null)
        {
            return row;
        }

        if (row.Unview(view) is { } viewed)
        {
            return viewed;
        }

        ToRowNames(step, row);
        return row;
    }

    /// <summary>Renames the columns of a row a step (or source) made itself, which holds the step's names, to the row's.</summary>
    public static void ToRowNames(StepDefinition step, Row row)
    {
        if (step.InputMappings.Count == 0 && step.OutputMappings.Count == 0)
        {
            return;
        }

        foreach (var (stepColumn, rowColumn) in step.InputMappings)
        {
            Move(row, stepColumn, rowColumn);
        }

        foreach (var (stepColumn, newName) in step.OutputMappings)
        {
            Move(row, stepColumn, newName);
        }
    }

    private static void Move(Row row, string from, string to)
    {
        if (from != to && row.Has(from))
        {
            var value = row[from];
            row.Remove(from);
            row[to] = value;
        }
    }

    private static string StepNameOf(StepDefinition step, string rowColumn)
    {
        foreach (var (stepColumn, mapped) in step.InputMappings)
        {
            if (mapped == rowColumn)
            {
                return stepColumn;
            }
        }

        return rowColumn;
    }

    private static string RowNameAfter(StepDefinition step, string stepColumn) =>
        step.InputMappings.TryGetValue(stepColumn, out var rowColumn) ? rowColumn
        : step.OutputMappings.TryGetValue(stepColumn, out var newName) ? newName
        : stepColumn;
}

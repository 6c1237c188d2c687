namespace Distil.Pipeline;

/// <summary>
/// A step's column names over the row's, built once per step from its <c>input_mappings</c> ({step_column: row_column})
/// and <c>output_mappings</c> ({step_column: new_name}). The runtime hands the step a view of each row
/// (<see cref="Row.ViewAs"/>) that reads and writes through this map, so no column of the row is ever renamed:
/// an input-mapped column is read and written under its row name, and an output column is written under its new name
/// (and read back from there once written). A row column that an input mapping shows under another name is hidden
/// under its own, as the step asked for it by the other name.
/// </summary>
internal sealed class ColumnView
{
    private readonly Dictionary<string, string> _inputs;
    private readonly Dictionary<string, List<string>> _inputSources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputTargets = new(StringComparer.Ordinal);
    private readonly string[] _outputSteps;
    private readonly string[] _outputNames;

    private ColumnView(StepDefinition step)
    {
        _inputs = new Dictionary<string, string>(step.InputMappings, StringComparer.Ordinal);
        foreach (var (stepColumn, rowColumn) in _inputs)
        {
            if (!_inputSources.TryGetValue(rowColumn, out var names))
            {
                _inputSources[rowColumn] = names = [];
            }

            names.Add(stepColumn);
        }

        // An input mapping of the same column wins: the step writes it back where it read it.
        var outputs = step.OutputMappings.Where(m => m.Key != m.Value && !_inputs.ContainsKey(m.Key)).ToList();
        _outputSteps = outputs.Select(m => m.Key).ToArray();
        _outputNames = outputs.Select(m => m.Value).ToArray();
        for (var i = 0; i < outputs.Count; i++)
        {
            _outputs[_outputSteps[i]] = i;
            _outputTargets[_outputNames[i]] = i;
        }
    }

    /// <summary>The step's view, or null when it maps no column (its rows are handed over as they are).</summary>
    public static ColumnView? For(StepDefinition step) =>
        step.InputMappings.Count == 0 && step.OutputMappings.All(m => m.Key == m.Value) ? null : new ColumnView(step);

    /// <summary>Output columns a view tracks (whether each has been written through it).</summary>
    public int OutputCount => _outputSteps.Length;

    /// <summary>The row column behind <paramref name="stepColumn"/>, or null when the step does not see one by that name.</summary>
    public string? ReadName(string stepColumn, bool[]? written)
    {
        if (_inputs.TryGetValue(stepColumn, out var rowColumn))
        {
            return rowColumn;
        }

        if (_outputs.TryGetValue(stepColumn, out var output) && written?[output] == true)
        {
            return _outputNames[output];
        }

        return Hidden(stepColumn, written) ? null : stepColumn;
    }

    /// <summary>The row column a write of <paramref name="stepColumn"/> goes to; marks an output column as written.</summary>
    public string WriteName(string stepColumn, ref bool[]? written)
    {
        if (_inputs.TryGetValue(stepColumn, out var rowColumn))
        {
            return rowColumn;
        }

        if (_outputs.TryGetValue(stepColumn, out var output))
        {
            (written ??= new bool[_outputSteps.Length])[output] = true;
            return _outputNames[output];
        }

        return stepColumn;
    }

    /// <summary>The step's names for the columns of a row.</summary>
    public IEnumerable<string> StepColumns(IEnumerable<string> rowColumns, bool[]? written)
    {
        foreach (var column in rowColumns)
        {
            if (_inputSources.TryGetValue(column, out var names))
            {
                foreach (var name in names)
                {
                    yield return name;
                }
            }
            else if (_outputTargets.TryGetValue(column, out var output) && written?[output] == true)
            {
                yield return _outputSteps[output];
            }
            else if (!Hidden(column, written))
            {
                yield return column;
            }
        }
    }

    /// <summary>
    /// A row column the step sees under another name (an input mapping's source, an output written under its new
    /// name), or one whose name stands for another column (an input-mapped step name, a written output's step name).
    /// </summary>
    private bool Hidden(string column, bool[]? written) =>
        _inputSources.ContainsKey(column)
        || _inputs.ContainsKey(column)
        || (_outputs.TryGetValue(column, out var output) && written?[output] == true)
        || (_outputTargets.TryGetValue(column, out var target) && written?[target] == true);
}

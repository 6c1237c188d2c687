using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// combine_columns: the fan-in that joins branches by row id. Each column in <c>columns</c> becomes a list
/// (one entry per branch, in the order of <c>after</c>) named by <c>output_columns</c> (default: the column
/// name + "s"); the other columns are taken from the first branch — except that branches whose models were
/// sent different messages (<c>prompt_messages</c> not gathered in <c>columns</c>) make the row fail, so the
/// dataset never pairs answers to different prompts under one of them.
/// </summary>
internal sealed class CombineColumns : IFanInStep
{
    private readonly IReadOnlyList<string> _columns;
    private readonly IReadOnlyList<string> _outputs;

    public CombineColumns(StepParameters parameters)
    {
        Name = parameters.Name;
        _columns = parameters.GetStringList("columns") is { Count: > 0 } c ? c
            : throw parameters.Error("columns", $"step '{Name}' needs 'columns', the branch columns to gather into lists");
        _outputs = parameters.GetStringList("output_columns") ?? _columns.Select(x => x + "s").ToList();
        if (_outputs.Count != _columns.Count)
        {
            throw parameters.Error("output_columns", $"'output_columns' must name one output per column ({_columns.Count})");
        }
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => _columns;

    public IReadOnlyList<string> OutputColumns => _outputs;

    public IReadOnlyList<string> ColumnsAfter(IReadOnlyList<string> available) =>
        available.Where(c => !_columns.Contains(c)).Concat(_outputs).Distinct(StringComparer.Ordinal).ToList();

    public Row Combine(IReadOnlyList<Row> parts, IStepContext context)
    {
        var combined = parts[0].Clone();
        foreach (var part in parts.Skip(1))
        {
            foreach (var (column, value) in part.Values)
            {
                if (!combined.Has(column))
                {
                    combined[column] = value;
                }
            }
        }

        for (var i = 0; i < _columns.Count; i++)
        {
            combined.Remove(_columns[i]);
            combined[_outputs[i]] = parts.Select(p => p[_columns[i]]).ToList();
        }

        const string sent = TextGenerationStep.PromptMessagesColumn;
        if (!_columns.Contains(sent) && parts.Where(p => p.Has(sent)).Select(p => RowJson.ToJson(p[sent])).Distinct(StringComparer.Ordinal).Count() > 1)
        {
            context.RecordRowError(combined, $"{Name}: the branches' models were sent different prompts ('{sent}' differs); gather it in 'columns' to keep each");
        }

        return combined;
    }
}

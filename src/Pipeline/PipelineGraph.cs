namespace Distil.Pipeline;

/// <summary>
/// Checks the shape of a pipeline before it runs: predecessors exist, there is one source, only fan-in
/// steps join branches, sinks end branches, there is no cycle, and every step finds the columns it reads.
/// </summary>
internal static class PipelineGraph
{
    public static IReadOnlyList<StepDefinition> Validate(IReadOnlyList<StepDefinition> steps, StepParameters top)
    {
        ResolvePredecessors(steps);
        var ordered = TopologicalOrder(steps);
        CheckColumns(ordered);
        return ordered;
    }

    private static void ResolvePredecessors(IReadOnlyList<StepDefinition> steps)
    {
        var names = steps.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var sources = steps.Where(s => s.Step is ISourceStep).ToList();
        if (sources.Count != 1)
        {
            var where = sources.Count == 0 ? steps[0] : sources[1];
            throw where.Parameters.Error(sources.Count == 0 ? "type" : null, sources.Count == 0
                ? "a pipeline needs one source step (load_jsonl, load_csv, load_parquet, …)"
                : $"a pipeline has exactly one source step; '{sources[0].Name}' and '{sources[1].Name}' are both sources");
        }

        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var explicitAfter = step.Parameters.GetStringList("after");
            if (step.Step is ISourceStep)
            {
                if (explicitAfter is { Count: > 0 })
                {
                    throw step.Parameters.Error("after", $"source step '{step.Name}' reads its own input and cannot come after other steps");
                }

                step.After = [];
                continue;
            }

            if (explicitAfter is null)
            {
                if (i == 0)
                {
                    throw step.Parameters.Error(null, $"step '{step.Name}' has no input: give it \"after\" or place a source step before it");
                }

                step.After = [steps[i - 1].Name];
                continue;
            }

            if (explicitAfter.Count == 0)
            {
                throw step.Parameters.Error("after", $"step '{step.Name}' needs at least one predecessor in \"after\"");
            }

            foreach (var predecessor in explicitAfter)
            {
                if (!names.Contains(predecessor))
                {
                    throw step.Parameters.Error("after", $"step '{step.Name}' comes after '{predecessor}', which is not a step of this pipeline");
                }

                if (predecessor == step.Name)
                {
                    throw step.Parameters.Error("after", $"step '{step.Name}' cannot come after itself");
                }
            }

            if (explicitAfter.Distinct(StringComparer.Ordinal).Count() != explicitAfter.Count)
            {
                throw step.Parameters.Error("after", $"step '{step.Name}' lists a predecessor twice");
            }

            if (explicitAfter.Count > 1 && step.Step is not IFanInStep)
            {
                throw step.Parameters.Error("after", $"step '{step.Name}' ({step.Type.Name}) takes one predecessor; join branches with a fan-in step such as combine_columns");
            }

            step.After = explicitAfter;
        }

        foreach (var step in steps)
        {
            foreach (var predecessor in step.After)
            {
                var from = steps.First(s => s.Name == predecessor);
                if (from.Step is ISinkStep)
                {
                    throw step.Parameters.Error("after", $"step '{step.Name}' comes after '{from.Name}', a sink; sinks end a branch");
                }
            }
        }
    }

    private static List<StepDefinition> TopologicalOrder(IReadOnlyList<StepDefinition> steps)
    {
        var remaining = steps.ToDictionary(s => s.Name, s => s.After.Count, StringComparer.Ordinal);
        var ordered = new List<StepDefinition>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (ordered.Count < steps.Count)
        {
            // Take the first step in file order whose predecessors are all placed, so the order is stable.
            var next = steps.FirstOrDefault(s => !done.Contains(s.Name) && s.After.All(done.Contains));
            if (next is null)
            {
                var stuck = steps.Where(s => !done.Contains(s.Name)).ToList();
                var cycle = FindCycle(stuck);
                var first = steps.First(s => s.Name == cycle[0]);
                throw first.Parameters.Error(first.Parameters.Has("after") ? "after" : null, $"the steps form a cycle: {string.Join(" → ", cycle)}");
            }

            ordered.Add(next);
            done.Add(next.Name);
        }

        return ordered;
    }

    private static List<string> FindCycle(List<StepDefinition> stuck)
    {
        var byName = stuck.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var path = new List<string>();
        var current = stuck[0];
        while (!path.Contains(current.Name))
        {
            path.Add(current.Name);
            current = byName[current.After.First(byName.ContainsKey)];
        }

        var start = path.IndexOf(current.Name);
        var cycle = path.Skip(start).ToList();
        cycle.Reverse();
        cycle.Add(cycle[0]);
        return cycle;
    }

    private static void CheckColumns(IReadOnlyList<StepDefinition> ordered)
    {
        var byName = ordered.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var step in ordered)
        {
            foreach (var key in step.InputMappings.Keys.Where(k => !step.Step.InputColumns.Contains(k)))
            {
                throw step.Parameters.Error("input_mappings", $"input_mappings names '{key}', which step '{step.Name}' does not read (it reads: {List(step.Step.InputColumns)})");
            }

            foreach (var key in step.OutputMappings.Keys.Where(k => !step.Step.OutputColumns.Contains(k)))
            {
                throw step.Parameters.Error("output_mappings", $"output_mappings names '{key}', which step '{step.Name}' does not produce (it produces: {List(step.Step.OutputColumns)})");
            }

            if (step.Step is ISourceStep)
            {
                step.ColumnsIn = [];
                step.ColumnsOut = step.Step.OutputColumns.Count == 0 ? null : ColumnMappings.ColumnsAfter(step, []);
                continue;
            }

            var inputs = step.After.Select(p => byName[p].ColumnsOut).ToList();
            step.ColumnsIn = inputs.Any(c => c is null) ? null : inputs.SelectMany(c => c!).Distinct(StringComparer.Ordinal).ToList();
            if (step.ColumnsIn is null)
            {
                step.ColumnsOut = null;
                continue;
            }

            // A fan-in step reads its columns from every branch, so each branch must carry them.
            for (var i = 0; i < inputs.Count; i++)
            {
                foreach (var column in ColumnMappings.RequiredRowColumns(step))
                {
                    if (!inputs[i]!.Contains(column))
                    {
                        var from = inputs.Count > 1 ? $" (branch '{step.After[i]}')" : string.Empty;
                        throw step.Parameters.Error(step.InputMappings.Values.Contains(column) ? "input_mappings" : null,
                            $"step '{step.Name}' needs column '{column}', which no step before it produces{from} (available: {List(inputs[i]!)}); add a step that produces it or map another column with input_mappings");
                    }
                }
            }

            step.ColumnsOut = ColumnMappings.ColumnsAfter(step, step.ColumnsIn);
        }
    }

    private static string List(IEnumerable<string> columns) => columns.Any() ? string.Join(", ", columns) : "nothing";
}

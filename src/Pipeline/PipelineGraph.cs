namespace Distil.Pipeline;

/// <summary>
/// Checks the shape of a pipeline before it runs: predecessors exist, there is one source, only fan-in
/// steps join branches, sinks end branches, there is no cycle, and every step finds the columns it reads.
/// </summary>
internal static class PipelineGraph
{
    public static IReadOnlyList<StepDefinition> Validate(IReadOnlyList<StepDefinition> steps, StepParameters top)
    {
        var problems = new DefinitionProblems();
        ResolvePredecessors(steps, problems);
        problems.ThrowIfAny();
        var ordered = TopologicalOrder(steps);
        CheckColumns(ordered, problems);
        problems.ThrowIfAny();
        return ordered;
    }

    private static void ResolvePredecessors(IReadOnlyList<StepDefinition> steps, DefinitionProblems problems)
    {
        var byName = steps.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var sources = steps.Where(s => s.Step is ISourceStep).ToList();
        if (sources.Count != 1)
        {
            var where = sources.Count == 0 ? steps[0] : sources[1];
            problems.Add(where.Parameters.Error(sources.Count == 0 ? "type" : null, sources.Count == 0
                ? "a pipeline needs one source step (load_jsonl, load_csv, load_parquet, …)"
                : $"a pipeline has exactly one source step; '{sources[0].Name}' and '{sources[1].Name}' are both sources"));
        }

        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            problems.Check(() => step.After = PredecessorsOf(step, i == 0 ? null : steps[i - 1], byName));
        }
    }

    private static IReadOnlyList<string> PredecessorsOf(StepDefinition step, StepDefinition? previous, Dictionary<string, StepDefinition> byName)
    {
        var explicitAfter = step.Parameters.GetStringList("after");
        if (step.Step is ISourceStep)
        {
            return explicitAfter is { Count: > 0 }
                ? throw step.Parameters.Error("after", $"source step '{step.Name}' reads its own input and cannot come after other steps")
                : [];
        }

        if (explicitAfter is null)
        {
            if (previous is null)
            {
                throw step.Parameters.Error(null, $"step '{step.Name}' has no input: give it \"after\" or place a source step before it");
            }

            explicitAfter = [previous.Name];
        }

        if (explicitAfter.Count == 0)
        {
            throw step.Parameters.Error("after", $"step '{step.Name}' needs at least one predecessor in \"after\"");
        }

        foreach (var predecessor in explicitAfter)
        {
            if (predecessor == step.Name)
            {
                throw step.Parameters.Error("after", $"step '{step.Name}' cannot come after itself");
            }

            if (!byName.TryGetValue(predecessor, out var from))
            {
                throw step.Parameters.Error("after", $"step '{step.Name}' comes after {PipelineDefinitionException.Quote(predecessor)}, which is not a step of this pipeline");
            }

            if (from.Step is ISinkStep)
            {
                throw step.Parameters.Error("after", $"step '{step.Name}' comes after '{from.Name}', a sink; sinks end a branch");
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

        if (explicitAfter.Count < 2 && step.Step is IFanInStep)
        {
            throw step.Parameters.Error(step.Parameters.Has("after") ? "after" : null, $"step '{step.Name}' ({step.Type.Name}) joins branches: list at least two steps in \"after\" (it has {explicitAfter.Count}); with one branch there is nothing to join");
        }

        return explicitAfter;
    }

    /// <summary>
    /// Kahn's algorithm, taking among ready steps the one written first so the order is stable; linear in steps and
    /// edges (a definition with 100,000 steps must not make validate hang).
    /// </summary>
    private static List<StepDefinition> TopologicalOrder(IReadOnlyList<StepDefinition> steps)
    {
        var index = new Dictionary<string, int>(steps.Count, StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            index[steps[i].Name] = i;
        }

        var waiting = new int[steps.Count];
        var successors = new List<int>[steps.Count];
        var ready = new PriorityQueue<int, int>();
        for (var i = 0; i < steps.Count; i++)
        {
            successors[i] = [];
        }

        for (var i = 0; i < steps.Count; i++)
        {
            waiting[i] = steps[i].After.Count;
            foreach (var predecessor in steps[i].After)
            {
                successors[index[predecessor]].Add(i);
            }

            if (waiting[i] == 0)
            {
                ready.Enqueue(i, i);
            }
        }

        var ordered = new List<StepDefinition>(steps.Count);
        while (ready.TryDequeue(out var next, out _))
        {
            ordered.Add(steps[next]);
            foreach (var successor in successors[next])
            {
                if (--waiting[successor] == 0)
                {
                    ready.Enqueue(successor, successor);
                }
            }
        }

        if (ordered.Count < steps.Count)
        {
            var stuck = steps.Where((_, i) => waiting[i] > 0).ToList();
            var cycle = FindCycle(stuck);
            var first = steps[index[cycle[0]]];
            throw first.Parameters.Error(first.Parameters.Has("after") ? "after" : null, $"the steps form a cycle: {string.Join(" → ", cycle)}");
        }

        return ordered;
    }

    private static List<string> FindCycle(List<StepDefinition> stuck)
    {
        var byName = stuck.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var path = new List<string>();
        var onPath = new HashSet<string>(StringComparer.Ordinal);
        var current = stuck[0];
        while (onPath.Add(current.Name))
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

    private static void CheckColumns(IReadOnlyList<StepDefinition> ordered, DefinitionProblems problems)
    {
        var byName = ordered.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var step in ordered)
        {
            if (!problems.Check(() => CheckColumns(step, byName)))
            {
                step.ColumnsOut = null; // unknown from here on, so one missing column is reported once, not by every later step
            }
        }
    }

    private static void CheckColumns(StepDefinition step, Dictionary<string, StepDefinition> byName)
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
            return;
        }

        var inputs = step.After.Select(p => byName[p].ColumnsOut).ToList();
        step.ColumnsIn = inputs.Any(c => c is null) ? null : inputs.SelectMany(c => c!).Distinct(StringComparer.Ordinal).ToList();
        if (step.ColumnsIn is null)
        {
            step.ColumnsOut = null;
            return;
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

    private static string List(IEnumerable<string> columns) => columns.Any() ? string.Join(", ", columns) : "nothing";
}

using Distil.Bench;

// distil-bench <pipeline|engine|judge|invariance|dedup|quant|fusion|all> [options]: each prints its figures next to a baseline measured in the same run.
var suites = new Dictionary<string, Func<string[], Task>>(StringComparer.OrdinalIgnoreCase)
{
    ["pipeline"] = PipelineBench.RunAsync,
    ["engine"] = EngineBench.RunAsync,
    ["judge"] = JudgeBench.RunAsync,
    ["invariance"] = InvarianceBench.RunAsync,
    ["dedup"] = DedupBench.RunAsync,
    ["quant"] = QuantBench.RunAsync,
    ["fusion"] = FusionBench.RunAsync,
};

var which = args.Length > 0 ? args[0] : "all";
var rest = args.Skip(1).ToArray();
if (which == QuantBench.ChildCommand)
{
    // Not a suite: one variant measured in a process of its own, started by the quant table.
    await QuantBench.RunChildAsync(rest);
    return 0;
}

if (which == "all")
{
    foreach (var suite in suites.Values)
    {
        await suite(rest);
    }

    return 0;
}

if (!suites.TryGetValue(which, out var run))
{
    Console.Error.WriteLine($"unknown benchmark '{which}'; choose one of: all, {string.Join(", ", suites.Keys)}");
    return 2;
}

await run(rest);
return 0;

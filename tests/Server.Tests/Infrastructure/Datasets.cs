using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>Reference results: the same pipeline run in one process, and the checks a merged dataset must pass.</summary>
public static class Datasets
{
    /// <summary>Runs the definition in this process with the pipeline runner (what <c>distil run</c> does) and returns its rows.</summary>
    public static async Task<List<Dictionary<string, object?>>> RunSingleProcessAsync(string pipeline, string scratch)
    {
        var definition = PipelineDefinition.Load(pipeline, BuiltInSteps.CreateRegistry());
        var output = Path.Combine(scratch, "single", definition.Name);
        await new PipelineRunner().RunAsync(definition, new RunOptions
        {
            OutputDirectory = output,
            RunsRoot = Path.Combine(scratch, "single-runs"),
        }, CancellationToken.None);
        return ParquetRows.Read(Path.Combine(output, "rows.parquet"));
    }

    /// <summary>The merged dataset equals the single-process one row for row: same rows, same order, nothing twice.</summary>
    public static void AssertSameRows(List<Dictionary<string, object?>> expected, string mergedFile)
    {
        var actual = ParquetRows.Read(mergedFile);
        Assert.Equal(expected.Count, actual.Count);
        var ids = actual.Select(r => (long)r["n"]!).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].OrderBy(kv => kv.Key), actual[i].OrderBy(kv => kv.Key));
        }
    }
}

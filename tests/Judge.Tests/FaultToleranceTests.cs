using Distil.Pipeline;
using Distil.Pipeline.Runtime;
using Distil.Steps;

namespace Distil.Judge.Tests;

/// <summary>
/// The seed pipeline on served models, through refusals, rate limits with Retry-After, queueing latency and dropped
/// connections, writes the very bytes it writes against a server that never fails: nothing lost, nothing repeated,
/// nothing reordered.
/// </summary>
public sealed class FaultToleranceTests : IDisposable
{
    private const int Rows = 24;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "distil-faults-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task The_seed_pipeline_through_injected_faults_writes_the_bytes_of_a_fault_free_run()
    {
        await using var clean = ServedPipeline.Server();
        var expected = await RunAsync("clean", clean);
        Assert.Equal(0, clean.Rejected);

        await using var faulty = ServedPipeline.FaultyServer();
        var actual = await RunAsync("faulty", faulty);

        Assert.True(faulty.Rejected > 5, $"{faulty.Rejected} refusals: the capacity limit was never met, so the test shows little");
        Assert.True(faulty.Requests > clean.Requests + faulty.Rejected, "no dropped connection was retried");
        Assert.Equal(clean.UsageByModel.OrderBy(u => u.Key), faulty.UsageByModel.OrderBy(u => u.Key));
        Assert.Equal(expected, actual);
    }

    private async Task<byte[]> RunAsync(string name, LoopbackOpenAIServer server)
    {
        var folder = Path.Combine(_folder, name);
        var definition = PipelineDefinition.Load(ServedPipeline.Write(folder, server, Rows), BuiltInSteps.CreateRegistry());
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var manifest = await new PipelineRunner().RunAsync(
            definition,
            new RunOptions { RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = Path.Combine(folder, "out"), Models = new ModelCatalog() },
            deadline.Token);
        Assert.Equal(RunStatus.Succeeded, manifest.Status);
        Assert.Equal(0, manifest.Steps.Sum(s => s.Errors));
        Assert.Equal(Rows, manifest.Steps.Single(s => s.Name == "judge").RowsOut);
        return await File.ReadAllBytesAsync(Path.Combine(folder, "out", "data.parquet"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}

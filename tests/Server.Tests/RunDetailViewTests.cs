using Distil.Server.Api;
using Distil.Server.Storage;

namespace Distil.Server.Tests;

/// <summary>The figures the API and the dashboard show for a run part-way: pace from finished rows, not rows read ahead.</summary>
public sealed class RunDetailViewTests
{
    private static readonly DateTimeOffset Started = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Rate_and_eta_follow_the_rows_the_work_steps_finished_and_combine_reads_its_own_share()
    {
        // 300 rows, 120 finished after 60 s; the source has read all 300 ahead of the models.
        var run = new RunRecord(Guid.NewGuid(), "seed", null, "api", RunState.Running, 100, 300, 3, 0, Started, Started, null, null, null)
        {
            RowsDone = 120,
        };
        StepCounts[] steps =
        [
            new("load", 0, 300, 0, 0, 0, 0, 1),
            new("gen_a", 120, 120, 0, 0, 1000, 500, 50),
            new("gen_b", 120, 120, 0, 0, 1000, 700, 50),
            new("combine", 240, 120, 0, 0, 0, 0, 0),
            new("pairs", 120, 100, 0, 20, 0, 0, 0),
        ];

        var view = RunDetailView.From(new RunDetails(run, [], steps, null), Started.AddSeconds(60));

        Assert.Equal(2.0, view.RowsPerSecond, 6);
        Assert.Equal(90.0, view.EtaSeconds!.Value, 6);
        Assert.Equal(0.4, view.Run.Progress, 6);
        var progress = view.Steps.ToDictionary(s => s.Name, s => s.Progress);
        Assert.Equal(1.0, progress["load"], 6);
        Assert.Equal(0.4, progress["gen_a"], 6);
        Assert.Equal(0.4, progress["combine"], 6);
        Assert.Equal(0.4, progress["pairs"], 6);
    }
}

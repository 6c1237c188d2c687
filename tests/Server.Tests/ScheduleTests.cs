using System.Text.Json;
using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>Recurring runs: registered by <c>distil schedule</c> or by a definition's <c>"schedule"</c> in the pipelines folder.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ScheduleTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Schedule_command_registers_a_recurring_run_that_runs_when_triggered()
    {
        var database = await postgres.CreateDatabaseAsync("schedule");
        var pipeline = _workspace.Pipeline("nightly-data", rows: 40, folder: "elsewhere");
        await using var serve = await ServeProcess.StartAsync(_workspace, database, shardSize: 20);

        var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(),
            "schedule", pipeline, "--cron", "0 3 * * *", "--id", "nightly", "--server", serve.Url);
        Assert.True(exit == 0, output);
        Assert.Equal("nightly", output.Trim());

        var schedules = JsonDocument.Parse(await serve.Http.GetStringAsync("/api/schedules")).RootElement;
        var nightly = schedules.EnumerateArray().Single(s => s.GetProperty("id").GetString() == "nightly");
        Assert.Equal("0 3 * * *", nightly.GetProperty("cron").GetString());
        var next = nightly.GetProperty("next_execution").GetDateTime();
        Assert.Equal(3, next.Hour);
        Assert.True(next > DateTime.UtcNow);

        using var trigger = await serve.Http.PostAsync("/api/schedules/nightly/trigger", null);
        Assert.True(trigger.IsSuccessStatusCode);
        var run = await WaitForScheduledRunAsync(serve, "schedule:nightly");
        await serve.WaitForStateAsync(run, "Succeeded", TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Definition_with_a_schedule_in_the_pipelines_folder_runs_on_its_own()
    {
        var database = await postgres.CreateDatabaseAsync("folder");
        // Six-field cron: every three seconds, so that the test sees it fire without a trigger.
        _workspace.Pipeline("every-few-seconds", rows: 10, schedule: "*/3 * * * * *");
        await using var serve = await ServeProcess.StartAsync(_workspace, database);

        var run = await WaitForScheduledRunAsync(serve, "schedule:every-few-seconds");
        await serve.WaitForStateAsync(run, "Succeeded", TimeSpan.FromSeconds(60));
        Assert.Contains("Scheduled every-few-seconds", serve.Process.Output);
    }

    [Fact]
    public async Task Schedule_remove_deletes_the_recurring_run_and_its_definition()
    {
        var database = await postgres.CreateDatabaseAsync("unschedule");
        var pipeline = _workspace.Pipeline("hourly-data", rows: 10, folder: "elsewhere");
        await using var serve = await ServeProcess.StartAsync(_workspace, database);
        var none = new Dictionary<string, string?>();
        var (exit, output) = await DistilProcess.RunAsync(_workspace.Root, none, "schedule", pipeline, "--cron", "0 * * * *", "--id", "hourly", "--server", serve.Url);
        Assert.True(exit == 0, output);

        (exit, output) = await DistilProcess.RunAsync(_workspace.Root, none, "schedule", "--remove", "hourly", "--server", serve.Url);
        Assert.True(exit == 0, output);
        Assert.Equal("removed hourly", output.Trim());

        var schedules = JsonDocument.Parse(await serve.Http.GetStringAsync("/api/schedules")).RootElement;
        Assert.DoesNotContain(schedules.EnumerateArray(), s => s.GetProperty("id").GetString() == "hourly");
        await using (var connection = new Npgsql.NpgsqlConnection(database + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var stored = new Npgsql.NpgsqlCommand("SELECT count(*) FROM distil.schedules WHERE id = 'hourly'", connection);
            Assert.Equal(0L, await stored.ExecuteScalarAsync());
        }

        using var trigger = await serve.Http.PostAsync("/api/schedules/hourly/trigger", null);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, trigger.StatusCode);
        (exit, output) = await DistilProcess.RunAsync(_workspace.Root, none, "schedule", "--remove", "hourly", "--server", serve.Url);
        Assert.Equal(2, exit);
        Assert.Contains("no schedule 'hourly'", output);
    }

    private static async Task<Guid> WaitForScheduledRunAsync(ServeProcess serve, string trigger)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var runs = JsonDocument.Parse(await serve.Http.GetStringAsync("/api/runs")).RootElement;
            var run = runs.EnumerateArray().FirstOrDefault(r => r.GetProperty("trigger").GetString() == trigger);
            if (run.ValueKind == JsonValueKind.Object)
            {
                return run.GetProperty("id").GetGuid();
            }

            await Task.Delay(250);
        }

        throw new Xunit.Sdk.XunitException($"no run with trigger {trigger} appeared. serve output:\n{serve.Process.Output}");
    }

    public void Dispose() => _workspace.Dispose();
}

using System.Text.Json;
using Distil.Server.Tests.Infrastructure;
using Npgsql;

namespace Distil.Server.Tests;

/// <summary>The Postgres password and the dashboard token appear nowhere: not in logs, pages, API answers or job arguments.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SecretsTests(PostgresServer postgres) : IDisposable
{
    private const string Token = "dash-token-secret-5d1c";

    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Connection_string_and_token_never_show_in_logs_pages_or_jobs()
    {
        var database = await postgres.CreateDatabaseAsync("secrets");
        var pipeline = _workspace.Pipeline("secrets", rows: 30);
        // The connection string is passed on the command line here, the most exposed way.
        await using var serve = await ServeProcess.StartAsync(_workspace, database, shardSize: 10, token: Token, postgresAsArgument: true);
        await using var worker = await WorkerProcess.StartAsync(_workspace, database, "worker");
        using (var login = new HttpClient { BaseAddress = new Uri(serve.Url) })
        {
            (await login.GetAsync($"/?token={Token}")).Dispose(); // a request whose URL carries the token
        }

        var id = await serve.SubmitAsync(_workspace, pipeline, token: Token);
        await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(90));

        var seen = new List<(string Where, string Text)>
        {
            ("serve log", serve.Process.Output),
            ("worker log", worker.Output),
        };
        foreach (var path in new[] { "/", "/api/runs", $"/api/runs/{id}", "/api/schedules", "/hangfire", "/hangfire/jobs/succeeded", "/hangfire/servers", "/hangfire/recurring" })
        {
            seen.Add((path, await serve.Http.GetStringAsync(path)));
        }

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        var jobIds = new List<long>();
        await using (var command = new NpgsqlCommand("SELECT id, invocationdata::text, arguments::text FROM hangfire.job", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                jobIds.Add(reader.GetInt64(0));
                seen.Add(($"hangfire.job {reader.GetInt64(0)}", reader.GetString(1) + reader.GetString(2)));
            }
        }

        Assert.True(jobIds.Count >= 5, "plan, three shards and a merge should be in the job table");
        foreach (var job in jobIds)
        {
            seen.Add(($"/hangfire/jobs/details/{job}", await serve.Http.GetStringAsync($"/hangfire/jobs/details/{job}")));
        }

        await using (var command = new NpgsqlCommand("SELECT coalesce(string_agg(t::text, ''), '') FROM (SELECT * FROM hangfire.jobparameter) t", connection))
        {
            seen.Add(("hangfire.jobparameter", (string)(await command.ExecuteScalarAsync())!));
        }

        await using (var command = new NpgsqlCommand("SELECT coalesce(string_agg(t::text, ''), '') FROM (SELECT id, pipeline, definition_file, trigger, output, error, summary FROM distil.runs) t", connection))
        {
            seen.Add(("distil.runs", (string)(await command.ExecuteScalarAsync())!));
        }

        Assert.Contains(seen, s => s.Where == "hangfire.job " + jobIds[0]); // the search covered the job table
        foreach (var (where, text) in seen)
        {
            Assert.False(text.Contains(PostgresServer.Password, StringComparison.Ordinal), $"the Postgres password shows in {where}");
            Assert.False(text.Contains(Token, StringComparison.Ordinal), $"the dashboard token shows in {where}");
        }

        // The run really happened through these processes (so the logs searched were not empty talk).
        Assert.Contains(id.ToString(), serve.Process.Output + worker.Output);
        Assert.Equal("Succeeded", JsonDocument.Parse(await serve.Http.GetStringAsync($"/api/runs/{id}")).RootElement.GetProperty("run").GetProperty("state").GetString());
    }

    public void Dispose() => _workspace.Dispose();
}

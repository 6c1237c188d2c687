using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Distil.Hub.Tests;
using Distil.Server.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Distil.Server.Tests;

/// <summary>
/// Human review of a finished run's pairs: a person browses and filters them in the dashboard (headless Chromium), flips
/// one and rejects another, publishes, and the Hub gets the data with the flip applied, the rejected pair left out and a
/// <c>human_override</c> column, read back by DuckDB; publishing again changes nothing. Without Postgres the log is a
/// file beside the output that <c>distil publish</c> applies.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ReviewTests(PostgresServer postgres) : IDisposable
{
    private const int Rows = 12;
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_pair_flipped_and_one_rejected_in_the_dashboard_are_published_that_way()
    {
        var token = "hf_" + Guid.NewGuid().ToString("N");
        await using var hub = await LoopbackHub.StartAsync(token);
        var pipeline = PairsPipeline("reviewed", $$"""{ "name": "push", "type": "push_to_hub", "repo": "alice/reviewed", "endpoint": "{{hub.Endpoint}}", "path": "pairs.parquet" }""");
        var database = await postgres.CreateDatabaseAsync("review");
        await using var serve = await ServeProcess.StartAsync(_workspace, database, shardSize: 5, environment: new() { ["HF_TOKEN"] = token });
        var id = await serve.SubmitAsync(_workspace, pipeline);
        await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(90));
        var repo = hub.Repo("alice/reviewed");
        Assert.Single(repo.Commits);

        var (playwright, browser) = await HeadlessChromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        await page.GotoAsync(serve.Url);
        await page.Locator($"tr.run[data-run='{id}']").ClickAsync();
        await page.Locator("#browse-rows").ClickAsync();
        await page.Locator("#rows .pair").First.WaitForAsync();
        Assert.Equal(Rows, await page.Locator("#rows .pair").CountAsync());
        // A multi-turn prompt is shown turn by turn.
        Assert.Equal(["system", "user", "assistant", "user"], await page.Locator("#rows .pair[data-row='1'] .turn").EvaluateAllAsync<string[]>("ts => ts.map(t => t.dataset.role)"));

        // Pairs beta wrote an answer of, at least 2 rating points apart: what the data says, computed here.
        var expected = Enumerable.Range(0, Rows).Where(i => (ModelOf(i) == "beta" || ModelOf(i + 1) == "beta") && Gap(i) >= 2).ToList();
        Assert.InRange(expected.Count, 2, Rows - 1);
        await page.Locator("#f-model").FillAsync("beta");
        await page.Locator("#f-min-gap").FillAsync("2");
        await page.Locator("#f-apply").ClickAsync();
        await page.Locator($"#rows-count[data-count='{expected.Count}']").WaitForAsync();
        Assert.Equal(expected.Select(i => i.ToString(CultureInfo.InvariantCulture)), await page.Locator("#rows .pair").EvaluateAllAsync<string[]>("ps => ps.map(p => p.dataset.row)"));

        var (flipped, rejected) = (expected[0], expected[1]);
        await page.Locator("#reviewer").FillAsync("carol");
        await page.Locator("#reviewer").DispatchEventAsync("change");
        await page.Locator($"#rows .pair[data-row='{flipped}'] button[data-action=flip]").ClickAsync();
        await page.Locator($"#rows .pair[data-row='{flipped}'][data-review=flip]").WaitForAsync();
        await page.Locator($"#rows .pair[data-row='{rejected}'] button[data-action=reject]").ClickAsync();
        await page.Locator($"#rows .pair[data-row='{rejected}'][data-review=reject]").WaitForAsync();
        Assert.Contains("flip by carol", await page.Locator($"#rows .pair[data-row='{flipped}'] .verdict").InnerTextAsync());
        await Screenshots.TakeAsync(page, "review-flipped-and-rejected");

        await page.Locator("#publish").ClickAsync();
        await page.Locator("#published").WaitForAsync(new() { Timeout = 60_000 });
        await Screenshots.TakeAsync(page, "review-published");
        Assert.Equal(2, repo.Commits.Count);

        // The log is in Postgres, append-only, with who and when.
        var log = JsonDocument.Parse(await serve.Http.GetStringAsync($"/api/runs/{id}/reviews")).RootElement;
        Assert.Equal([(flipped, "flip"), (rejected, "reject")], log.EnumerateArray().Select(e => ((int)e.GetProperty("row").GetInt64(), e.GetProperty("action").GetString()!)));
        Assert.All(log.EnumerateArray(), e => Assert.Equal("carol", e.GetProperty("reviewer").GetString()));

        var parquet = await DownloadAsync(repo, "first");
        var published = await DuckDb.QueryAsync($"select n, chosen, rejected, chosen_rating, rejected_rating, chosen_model, rejected_model, human_override from {DuckDb.Read(parquet)} order by n");
        var rows = published.EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, Rows).Where(i => i != rejected), rows.Select(r => int.Parse(r.GetProperty("n").ToString(), CultureInfo.InvariantCulture)));
        foreach (var row in rows)
        {
            var n = int.Parse(row.GetProperty("n").ToString(), CultureInfo.InvariantCulture);
            var swap = n == flipped;
            Assert.Equal(swap ? Rejected(n) : Chosen(n), row.GetProperty("chosen").GetString());
            Assert.Equal(swap ? Chosen(n) : Rejected(n), row.GetProperty("rejected").GetString());
            Assert.Equal(swap ? RejectedRating(n) : 5, int.Parse(row.GetProperty("chosen_rating").ToString(), CultureInfo.InvariantCulture));
            Assert.Equal(swap ? ModelOf(n + 1) : ModelOf(n), row.GetProperty("chosen_model").GetString());
            Assert.Equal(swap ? "flipped" : null, row.GetProperty("human_override").ValueKind == JsonValueKind.Null ? null : row.GetProperty("human_override").GetString());
        }

        var card = Encoding.UTF8.GetString(repo.Files["README.md"]);
        Assert.Contains("| flipped | 1 |", card);
        Assert.Contains("| rejected | 1 |", card);
        Assert.Contains($"| published | {Rows - 1} |", card);

        // The same decisions published again: the Hub already has that commit.
        using var again = await serve.Http.PostAsJsonAsync($"/api/runs/{id}/publish", new { });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(2, repo.Commits.Count);
        Assert.Equal(await File.ReadAllBytesAsync(parquet), await File.ReadAllBytesAsync(await DownloadAsync(repo, "second")));
    }

    [Fact]
    public async Task Without_postgres_the_review_log_sits_beside_the_output_and_distil_publish_applies_it()
    {
        var pipeline = PairsPipeline("local", """{ "name": "write", "type": "write_parquet", "path": "pairs.parquet", "row_group_size": 4 }""");
        await using var serve = await ServeProcess.StartAsync(_workspace, postgres: null, shardSize: 5);
        var id = await serve.SubmitAsync(_workspace, pipeline);
        var run = await serve.WaitForStateAsync(id, "Succeeded", TimeSpan.FromSeconds(60));
        var output = run.GetProperty("run").GetProperty("output").GetString()!;

        // Rows with a tie: the API's filter, checked against the data.
        var ties = JsonDocument.Parse(await serve.Http.GetStringAsync($"/api/runs/{id}/rows?ties=only")).RootElement;
        Assert.Equal(Enumerable.Range(0, Rows).Where(i => Gap(i) == 0), ties.GetProperty("rows").EnumerateArray().Select(r => (int)r.GetProperty("pair").GetProperty("row").GetInt64()));
        // Paging: two rows a page, continuing from the cursor.
        var first = JsonDocument.Parse(await serve.Http.GetStringAsync($"/api/runs/{id}/rows?limit=2")).RootElement;
        var next = first.GetProperty("next").GetInt64();
        var second = JsonDocument.Parse(await serve.Http.GetStringAsync($"/api/runs/{id}/rows?limit=2&after={next}")).RootElement;
        Assert.Equal([2L, 3L], second.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("pair").GetProperty("row").GetInt64()));
        // Row groups hold 4 rows: this page skips the first group unread and runs across the next two.
        var third = JsonDocument.Parse(await serve.Http.GetStringAsync($"/api/runs/{id}/rows?limit=5&after=4")).RootElement;
        Assert.Equal([4L, 5L, 6L, 7L, 8L], third.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("pair").GetProperty("row").GetInt64()));
        Assert.Equal(9, third.GetProperty("next").GetInt64());
        Assert.Equal(Rows, third.GetProperty("total_rows").GetInt64());

        foreach (var (row, action) in new[] { (4, "reject"), (6, "flip"), (7, "flip"), (7, "keep") })
        {
            using var response = await serve.Http.PostAsJsonAsync($"/api/runs/{id}/reviews", new { file = "pairs.parquet", row, action, reviewer = "dave" });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        using var missing = await serve.Http.PostAsJsonAsync($"/api/runs/{id}/reviews", new { file = "pairs.parquet", row = Rows, action = "flip" });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(output, "review.jsonl")).Length);

        var export = Path.Combine(_workspace.Root, "export");
        var (code, text) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "publish", output, "--to-dir", export);
        Assert.True(code == 0, text);
        Assert.Contains("3 rows reviewed, 1 flipped, 1 rejected", text);
        var exported = Assert.Single(Directory.GetFiles(export, "*.parquet", SearchOption.AllDirectories));
        var rows = (await DuckDb.QueryAsync($"select n, chosen, human_override from {DuckDb.Read(exported)} order by n")).EnumerateArray()
            .ToDictionary(r => int.Parse(r.GetProperty("n").ToString(), CultureInfo.InvariantCulture));
        Assert.Equal(Enumerable.Range(0, Rows).Where(i => i != 4), rows.Keys);
        Assert.Equal([6], rows.Where(r => r.Value.GetProperty("human_override").ValueKind == JsonValueKind.String).Select(r => r.Key));
        Assert.Equal("flipped", rows[6].GetProperty("human_override").GetString());
        Assert.Equal(Rejected(6), rows[6].GetProperty("chosen").GetString());
        Assert.Equal(Chosen(7), rows[7].GetProperty("chosen").GetString());

        // A log made on other data is refused with the entry it is about, not applied to the wrong pair.
        var lines = File.ReadAllLines(Path.Combine(output, "review.jsonl"));
        lines[1] = lines[1].Replace("\"digest\":\"", "\"digest\":\"0", StringComparison.Ordinal);
        File.WriteAllLines(Path.Combine(output, "review.jsonl"), lines);
        var (refused, message) = await DistilProcess.RunAsync(_workspace.Root, new Dictionary<string, string?>(), "publish", output, "--to-dir", Path.Combine(_workspace.Root, "export2"));
        Assert.Equal(1, refused);
        Assert.Contains("pairs.parquet row 6 (flip by dave", message);
    }

    private static string ModelOf(int i) => i % 3 == 0 ? "beta" : "alpha";

    private static int RejectedRating(int i) => i % 5 + 1;

    private static int Gap(int i) => 5 - RejectedRating(i);

    private static string Chosen(int i) => $"A careful answer to question {i}.";

    private static string Rejected(int i) => $"A sloppy answer to question {i}.";

    /// <summary>Pairs in standard DPO columns; odd rows have a multi-turn prompt. The chosen answer is rated 5 and written by
    /// <see cref="ModelOf"/>(i), the rejected one rated i % 5 + 1 and written by the next row's model.</summary>
    private string PairsPipeline(string name, string sink)
    {
        var lines = Enumerable.Range(0, Rows).Select(i => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["n"] = i,
            ["prompt"] = i % 2 == 0
                ? new object[] { new { role = "user", content = $"Question {i}?" } }
                : [new { role = "system", content = "Be brief." }, new { role = "user", content = "Hi" }, new { role = "assistant", content = "Hello." }, new { role = "user", content = $"Question {i}?" }],
            ["chosen"] = Chosen(i),
            ["rejected"] = Rejected(i),
            ["chosen_rating"] = 5,
            ["rejected_rating"] = RejectedRating(i),
            ["chosen_model"] = ModelOf(i),
            ["rejected_model"] = ModelOf(i + 1),
        }));
        File.WriteAllLines(Path.Combine(_workspace.Root, "data", $"{name}.jsonl"), lines);
        var path = Path.Combine(_workspace.Root, "pipelines", $"{name}.json");
        File.WriteAllText(path, $$"""
            {
              "name": "{{name}}",
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/{{name}}.jsonl" },
                {{sink}}
              ]
            }
            """);
        return path;
    }

    private async Task<string> DownloadAsync(HubRepo repo, string label)
    {
        var (path, bytes) = Assert.Single(repo.Files, f => f.Key.EndsWith(".parquet", StringComparison.Ordinal));
        var local = Path.Combine(_workspace.Root, "downloaded", label, Path.GetFileName(path));
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        await File.WriteAllBytesAsync(local, bytes);
        return local;
    }

    public void Dispose() => _workspace.Dispose();
}

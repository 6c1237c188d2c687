using Distil.Pipeline.Runtime;
using System.Security.Cryptography;
using Distil.Pipeline;
using Distil.Steps;

namespace Distil.Judge.Tests;

/// <summary>
/// <c>"batch": true</c> on an <c>openai</c> model, against the loopback server's files and batches endpoints: the
/// same dataset as synchronous calls at the discounted price; a CLI run killed mid-poll resumes the stored batches
/// without submitting any twice; requests a batch failed or left unanswered go out again alone, matched by custom_id.
/// </summary>
public class BatchApiTests
{
    private const string BatchMode = "\"batch\": true, \"poll_seconds\": 0.02,";

    [Fact]
    public async Task Batch_mode_yields_the_synchronous_dataset_at_the_discounted_price()
    {
        var root = TempFolder("distil-batch-same");
        try
        {
            await using var synchronous = ServedPipeline.Server();
            var reference = Path.Combine(root, "sync");
            ServedPipeline.Write(reference, synchronous, rows: 12);
            var syncManifest = await RunInProcessAsync(reference);

            await using var batched = ServedPipeline.Server();
            var folder = Path.Combine(root, "batch");
            ServedPipeline.Write(folder, batched, rows: 12, modelSettings: BatchMode);
            var manifest = await RunInProcessAsync(folder);

            Assert.Equal(RunStatus.Succeeded, manifest.Status);
            Assert.Equal(0, batched.Requests); // nothing went through chat completions
            Assert.Equal(3 * 3, batched.Batches.Submissions); // three steps, three batches of four rows each
            Assert.All(batched.Batches.SubmissionsByContent.Values, n => Assert.Equal(1, n));
            Assert.Equal(Digest(Path.Combine(reference, "out", "data.parquet")), Digest(Path.Combine(folder, "out", "data.parquet")));
            Assert.Equal(synchronous.Delivered.OrderBy(d => d.Key), batched.Delivered.OrderBy(d => d.Key));

            // The same tokens, at half price, adding up from the server's own usage counts.
            decimal total = 0;
            foreach (var (step, model) in new[] { ("gen_a", "gen-a"), ("gen_b", "gen-b"), ("judge", "judge") })
            {
                var metrics = manifest.Steps.Single(s => s.Name == step);
                var (input, output) = batched.UsageByModel[model + "-served"];
                var (inPrice, outPrice) = ServedPipeline.Prices[model];
                var expected = ((input * inPrice) + (output * outPrice)) / 1_000_000m * (1 - ServedPipeline.BatchDiscount);
                Assert.Equal((input, output), (metrics.InputTokens, metrics.OutputTokens));
                Assert.Equal(expected, metrics.CostUsd);
                Assert.Equal(syncManifest.Steps.Single(s => s.Name == step).CostUsd * (1 - ServedPipeline.BatchDiscount), metrics.CostUsd);
                total += expected;
            }

            Assert.Equal(total, manifest.CostUsd);
            var card = await File.ReadAllTextAsync(Path.Combine(folder, "out", DatasetCardStep.FileName));
            Assert.Contains($"| total | | | | {total.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)} |", card, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_run_interrupted_then_killed_mid_poll_resumes_its_stored_batches_without_submitting_twice()
    {
        var root = TempFolder("distil-batch-kill");
        try
        {
            await using var reference = ServedPipeline.Server();
            var clean = Path.Combine(root, "clean");
            ServedPipeline.Write(clean, reference, rows: 8);
            Assert.Equal(RunStatus.Succeeded, (await RunInProcessAsync(clean)).Status);

            // Batches stay in progress long enough for the CLI to be polling when it is stopped.
            await using var server = ServedPipeline.Server();
            server.Batches.InProgressFor = TimeSpan.FromSeconds(1.2);
            var folder = Path.Combine(root, "stopped");
            ServedPipeline.Write(folder, server, rows: 8, modelSettings: BatchMode);

            // Ctrl+C while polling: the run stops, the stored batch ids stay.
            using (var run = StartCli(folder))
            {
                await Eventually.WaitUntilAsync(() => (server.Batches.PollsInProgress > 0 && Journals(folder) >= 2) || run.HasExited, "a stored batch being polled");
                Assert.False(run.HasExited, "the run finished before it could be interrupted");
                run.Signal("INT");
                var (code, _, stderr) = await run.WaitAsync();
                Assert.True(code == 130, $"exit {code}: {stderr}");
            }

            var journals = Journals(folder);
            Assert.InRange(server.Batches.Submissions, 1, 4); // the generators' batches, not yet the judge's

            // kill -9 while the rerun polls (the generators' stored batches, or the judge's new ones).
            var polls = server.Batches.PollsInProgress;
            using (var run = StartCli(folder))
            {
                await Eventually.WaitUntilAsync(() => (server.Batches.PollsInProgress > polls && Journals(folder) > journals) || run.HasExited, "a batch of the rerun being polled");
                Assert.False(run.HasExited, "the rerun finished before it could be killed");
                run.Kill();
                await run.WaitAsync();
            }

            Assert.False(File.Exists(Path.Combine(folder, "out", "data.parquet")));

            using var last = StartCli(folder);
            var (exit, _, error) = await last.WaitAsync();
            Assert.True(exit == 0, error);
            var manifest = ManifestIn(folder);
            Assert.Equal(RunStatus.Succeeded, manifest.Status);
            Assert.Equal(3 * 2, server.Batches.Submissions); // three steps, two batches of four rows each: none twice
            Assert.All(server.Batches.SubmissionsByContent.Values, n => Assert.Equal(1, n));
            Assert.Equal(reference.Delivered.OrderBy(d => d.Key), server.Delivered.OrderBy(d => d.Key)); // every prompt answered as often as in a clean run
            Assert.Equal(Digest(Path.Combine(clean, "out", "data.parquet")), Digest(Path.Combine(folder, "out", "data.parquet")));
            Assert.Equal(8, manifest.Steps.Single(s => s.Name == "judge").RowsOut);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_batch_created_but_not_yet_journaled_is_found_by_its_input_file_not_created_again()
    {
        var root = TempFolder("distil-batch-find");
        try
        {
            await using var server = ServedPipeline.Server();
            ServedPipeline.Write(root, server, rows: 8, modelSettings: BatchMode);
            await RunInProcessAsync(root);
            var data = Digest(Path.Combine(root, "out", "data.parquet"));
            var submitted = server.Batches.Submissions;

            // As if every run had been killed between creating its batches and storing their ids: the journals keep only
            // the uploaded files, and the step caches are gone, so the rerun must ask the batch API again.
            var journals = Directory.GetFiles(Path.Combine(root, "runs"), "*.json", SearchOption.AllDirectories).Where(f => f.Contains($"{Path.DirectorySeparatorChar}batches{Path.DirectorySeparatorChar}", StringComparison.Ordinal)).ToList();
            Assert.Equal(3 * 2, journals.Count); // one per step batch, each with one round
            foreach (var journal in journals)
            {
                var stored = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(journal))!;
                foreach (var round in stored["rounds"]!.AsArray())
                {
                    Assert.True(round!.AsObject().Remove("batch_id"), $"{journal} stored no batch id");
                }

                await File.WriteAllTextAsync(journal, stored.ToJsonString());
            }

            Directory.Delete(Path.Combine(root, "runs", ".cache"), recursive: true);
            var manifest = await RunInProcessAsync(root);

            Assert.Equal(RunStatus.Succeeded, manifest.Status);
            Assert.Equal(0, manifest.Steps.Sum(s => s.CachedBatches));
            Assert.Equal(submitted, server.Batches.Submissions); // found through the paged batch list, none created
            Assert.Equal(data, Digest(Path.Combine(root, "out", "data.parquet")));
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Failed_and_expired_requests_go_out_again_alone_and_are_matched_by_custom_id(bool azure)
    {
        var root = TempFolder("distil-batch-retry");
        try
        {
            await using var server = new LoopbackOpenAIServer { BaseLatency = TimeSpan.Zero, Answer = prompt => "echo " + prompt };

            // The first batch expires with only its even lines (r0, r2, r4) answered; of those, r2 fails once with a
            // 500 and r4 is refused (400) every time. The second batch must carry exactly r1, r2, r3 and r5.
            server.Batches.ExpireFirst = 1;
            server.Batches.FailRequest = (prompt, attempt) => prompt.Contains("number 2:", StringComparison.Ordinal) && attempt == 1 ? 500
                : prompt.Contains("number 4:", StringComparison.Ordinal) ? 400
                : null;
            Directory.CreateDirectory(root);
            await File.WriteAllLinesAsync(Path.Combine(root, "prompts.jsonl"), Enumerable.Range(0, 6).Select(i => $"{{\"instruction\": \"Question number {i}: why?\"}}"));
            var endpoint = azure ? server.Endpoint.Replace("/v1", "/openai", StringComparison.Ordinal) : server.Endpoint;
            var shape = azure ? "\"api_version\": \"2024-10-21\", \"api_key_env\": \"DISTIL_TEST_AZURE_KEY\"," : string.Empty;
            Environment.SetEnvironmentVariable("DISTIL_TEST_AZURE_KEY", "azure-key");
            await File.WriteAllTextAsync(Path.Combine(root, "p.json"), $$"""
                {
                  "name": "retry",
                  "models": { "m": { "type": "openai", "endpoint": "{{endpoint}}", "model": "served", {{BatchMode}} {{shape}} "max_retries": 3 } },
                  "steps": [
                    { "name": "load", "type": "load_jsonl", "path": "prompts.jsonl" },
                    { "name": "gen", "type": "text_generation", "after": ["load"], "model": "m", "input_batch_size": 6 },
                    { "name": "write", "type": "write_jsonl", "after": ["gen"], "path": "out.jsonl" }
                  ]
                }
                """);
            var definition = PipelineDefinition.Load(Path.Combine(root, "p.json"), BuiltInSteps.CreateRegistry());

            var manifest = await new PipelineRunner().RunAsync(
                definition,
                new RunOptions { RunsRoot = Path.Combine(root, "runs"), OutputDirectory = Path.Combine(root, "out"), Models = new ModelCatalog() },
                default);

            Assert.Equal(RunStatus.Succeeded, manifest.Status);
            Assert.Equal([["r0", "r1", "r2", "r3", "r4", "r5"], ["r1", "r2", "r3", "r5"]], server.Batches.CustomIdsPerBatch);
            var rows = (await File.ReadAllLinesAsync(Path.Combine(root, "out", "out.jsonl"))).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(5, rows.Count);
            foreach (var row in rows)
            {
                // Output lines come back in reverse order: only custom_id pairs each answer with its own prompt.
                Assert.Equal("echo " + row.GetProperty("instruction").GetString(), row.GetProperty("generation").GetString());
            }

            var refused = System.Text.Json.JsonDocument.Parse(Assert.Single(await File.ReadAllLinesAsync(Path.Combine(root, "out", "write.errors.jsonl")))).RootElement;
            Assert.Contains("number 4:", refused.GetProperty("values").GetProperty("instruction").GetString(), StringComparison.Ordinal);
            Assert.Contains("HTTP 400", refused.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.All(server.Delivered.Values, n => Assert.Equal(1, n));
            Assert.Equal(5, server.Delivered.Count);
            Assert.Equal(1, manifest.Steps.Single(s => s.Name == "gen").Errors);
            if (azure)
            {
                Assert.Equal(("2024-10-21", "azure-key"), server.Batches.LastAzureCall);
            }
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_batch_refused_as_a_whole_fails_the_run_and_the_next_run_submits_afresh()
    {
        var root = TempFolder("distil-batch-refused");
        try
        {
            await using var server = ServedPipeline.Server();
            server.Batches.RefuseBatches = true;
            ServedPipeline.Write(root, server, rows: 4, modelSettings: BatchMode);

            var error = await Assert.ThrowsAnyAsync<Exception>(() => RunInProcessAsync(root));

            Assert.Contains("refused batch", error.Message, StringComparison.Ordinal);
            Assert.Contains("the model does not exist", error.Message, StringComparison.Ordinal);
            Assert.Equal(RunStatus.Failed, ManifestIn(root).Status);
            var refused = server.Batches.Submissions;

            server.Batches.RefuseBatches = false;
            var manifest = await RunInProcessAsync(root);

            Assert.Equal(RunStatus.Succeeded, manifest.Status);
            Assert.Equal(refused + 3, server.Batches.Submissions); // the refused ones again, then the judge's
            Assert.Equal(4, manifest.Steps.Single(s => s.Name == "judge").RowsOut);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData("\"poll_seconds\": 5", "$.models.m.poll_seconds")]
    [InlineData("\"api_version\": \"2024-10-21\"", "$.models.m.api_version")]
    [InlineData("\"batch\": true, \"poll_seconds\": 0", "$.models.m.poll_seconds")]
    [InlineData("\"batch\": \"yes\"", "$.models.m.batch")]
    public void Batch_settings_out_of_place_or_range_are_reported_with_their_path(string settings, string path)
    {
        var json = $$"""
            {
              "name": "p",
              "models": { "m": { "type": "openai", "endpoint": "http://127.0.0.1:9/v1", "model": "x", {{settings}} } },
              "steps": [ { "name": "load", "type": "load_jsonl", "path": "in.jsonl" } ]
            }
            """;

        var error = Assert.Throws<PipelineDefinitionException>(() => PipelineDefinition.Parse(json, "p.json", BuiltInSteps.CreateRegistry()));

        Assert.Contains(error.Problems, p => p.JsonPath == path && p.Line == 3);
    }

    private static DistilProcess StartCli(string folder) =>
        DistilProcess.Start(folder, "run", Path.Combine(folder, "served-dpo.json"), "--runs", Path.Combine(folder, "runs"), "-o", Path.Combine(folder, "out"));

    private static Task<RunManifest> RunInProcessAsync(string folder) => new PipelineRunner().RunAsync(
        PipelineDefinition.Load(Path.Combine(folder, "served-dpo.json"), BuiltInSteps.CreateRegistry()),
        new RunOptions { RunsRoot = Path.Combine(folder, "runs"), OutputDirectory = Path.Combine(folder, "out"), Models = new ModelCatalog() },
        default);

    private static RunManifest ManifestIn(string folder)
    {
        var run = Assert.Single(Directory.GetDirectories(Path.Combine(folder, "runs", "served-dpo")), d => File.Exists(Path.Combine(d, RunManifest.FileName)));
        return RunManifest.Read(Path.Combine(run, RunManifest.FileName));
    }

    /// <summary>Batch journals stored in the folder's run directories.</summary>
    private static int Journals(string folder)
    {
        var runs = Path.Combine(folder, "runs");
        return Directory.Exists(runs) ? Directory.GetFiles(runs, "*.json", SearchOption.AllDirectories).Count(f => f.Contains($"{Path.DirectorySeparatorChar}batches{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) : 0;
    }

    private static string TempFolder(string prefix) => Path.Combine(Path.GetTempPath(), prefix + "-" + Guid.NewGuid().ToString("N")[..8]);

    private static string Digest(string file) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
}

using Distil.Server.Tests.Infrastructure;

namespace Distil.Server.Tests;

/// <summary>
/// Model folders do not travel with a submitted run (input files do): a worker on which the folder is missing fails
/// the run with a message that names the path, instead of retrying or hanging.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class MissingModelTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task A_worker_without_the_model_folder_fails_the_run_naming_the_path()
    {
        var database = await postgres.CreateDatabaseAsync("nomodel");
        _workspace.Pipeline("nomodel", rows: 20);
        var models = Path.Combine(_workspace.Root, "models", "writer");
        Directory.CreateDirectory(models);
        File.WriteAllText(Path.Combine(models, "config.json"), "{}");
        var pipeline = Path.Combine(_workspace.Root, "pipelines", "nomodel-gen.json");
        File.WriteAllText(pipeline, """
            {
              "name": "nomodel-gen",
              "models": { "writer": { "type": "local", "path": "../models/writer" } },
              "steps": [
                { "name": "load", "type": "load_jsonl", "path": "../data/nomodel.jsonl" },
                { "name": "gen", "type": "text_generation", "model": "writer" },
                { "name": "write", "type": "write_parquet", "path": "rows.parquet" }
              ]
            }
            """);
        await using var serve = await ServeProcess.StartAsync(_workspace, database, workers: 0, shardSize: 10);
        var id = await serve.SubmitAsync(_workspace, pipeline);

        // The folder is there when the run is submitted, and not on the machine that runs it.
        Directory.Delete(models, recursive: true);
        await using var worker = await WorkerProcess.StartAsync(_workspace, database, "worker");

        var failed = await serve.WaitForStateAsync(id, "Failed", TimeSpan.FromSeconds(90));
        var error = failed.GetProperty("run").GetProperty("error").GetString()!;
        Assert.True(error.Contains(models, StringComparison.Ordinal) && error.Contains("no model folder", StringComparison.Ordinal), error);
    }

    public void Dispose() => _workspace.Dispose();
}

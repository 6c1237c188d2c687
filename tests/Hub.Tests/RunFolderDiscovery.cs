namespace Distil.Hub.Tests;

public sealed class RunFolderDiscovery
{
    [Fact]
    public async Task The_manifest_names_the_parquet_and_the_card_and_definition_are_found_beside_it()
    {
        using var folder = new TempFolder();
        var run = await TestDatasets.CreateRunFolderAsync(folder.Path);
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(run, "output", "not-listed.parquet"), 5, 10);

        var source = DatasetSource.FromFolder(run);

        Assert.Equal([Path.Combine(run, "output", "dpo.parquet")], source.ParquetFiles);
        Assert.Equal(Path.Combine(run, "output", "README.md"), source.CardFile);
        Assert.Equal(Path.Combine(run, "pipeline.json"), source.PipelineFile);
        Assert.Equal("ultrafeedback-dpo", source.PipelineName);
    }

    [Fact]
    public async Task Without_a_manifest_the_output_subfolder_is_searched()
    {
        using var folder = new TempFolder();
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(folder.Path, "output", "b.parquet"), 5, 10);
        await TestDatasets.WritePreferenceParquetAsync(Path.Combine(folder.Path, "output", "a.parquet"), 5, 10);

        var source = DatasetSource.FromFolder(folder.Path);

        Assert.Equal(["a.parquet", "b.parquet"], source.ParquetFiles.Select(Path.GetFileName));
        Assert.Null(source.CardFile);
        Assert.Null(source.PipelineFile);
    }

    [Fact]
    public void A_folder_without_parquet_is_an_error_naming_the_folder()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "README.md"), "# nothing");

        var error = Assert.Throws<HubPublishException>(() => DatasetSource.FromFolder(folder.Path));

        Assert.StartsWith($"{folder.Path}: no Parquet dataset found", error.Message);
    }

    [Fact]
    public void A_missing_folder_is_an_error_naming_it()
    {
        var error = Assert.Throws<HubPublishException>(() => DatasetSource.FromFolder("/nonexistent/runs/x/y"));

        Assert.StartsWith("/nonexistent/runs/x/y: no such folder", error.Message);
    }

    [Fact]
    public void A_manifest_that_lists_a_missing_output_is_an_error_naming_both()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "manifest.json"), """{ "output_files": ["output/gone.parquet"] }""");

        var error = Assert.Throws<HubPublishException>(() => DatasetSource.FromFolder(folder.Path));

        Assert.Contains(Path.Combine(folder.Path, "manifest.json"), error.Message);
        Assert.Contains("gone.parquet", error.Message);
    }

    [Fact]
    public async Task A_run_that_did_not_succeed_is_not_published()
    {
        using var folder = new TempFolder();
        var run = await TestDatasets.CreateRunFolderAsync(folder.Path);
        File.WriteAllText(Path.Combine(run, "manifest.json"), """{ "pipeline": "p", "status": "failed", "error": "judge crashed", "output_files": [] }""");

        var error = Assert.Throws<HubPublishException>(() => DatasetSource.FromFolder(run));

        Assert.StartsWith($"{Path.Combine(run, "manifest.json")}: the run has status 'failed' (judge crashed)", error.Message);
    }

    [Fact]
    public async Task The_manifest_the_runner_writes_is_understood()
    {
        using var folder = new TempFolder();
        var output = Path.Combine(folder.Path, "outputs", "p", "dpo.parquet");
        await TestDatasets.WritePreferenceParquetAsync(output, 5, 10);
        var run = Path.Combine(folder.Path, "runs", "p", "f1");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "manifest.json"), System.Text.Json.JsonSerializer.Serialize(
            new Distil.Pipeline.RunManifest { Pipeline = "p", Fingerprint = "f1", RunDirectory = run, OutputFiles = [output], Status = Distil.Pipeline.RunStatus.Succeeded },
            Distil.Pipeline.SnakeCaseJson.Options));

        var source = DatasetSource.FromFolder(run);

        Assert.Equal([output], source.ParquetFiles);
        Assert.Equal("p", source.PipelineName);
    }

    [Fact]
    public void A_broken_manifest_is_an_error_with_its_line()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "manifest.json"), "{\n  \"output_files\": [\n");

        var error = Assert.Throws<HubPublishException>(() => DatasetSource.FromFolder(folder.Path));

        Assert.StartsWith($"{Path.Combine(folder.Path, "manifest.json")}: not valid JSON (line", error.Message);
    }

    [Fact]
    public async Task A_file_that_is_not_parquet_is_an_error_naming_it()
    {
        await using var hub = await TestHub.StartAsync();
        var bad = Path.Combine(hub.Folder, "run", "broken.parquet");
        Directory.CreateDirectory(Path.GetDirectoryName(bad)!);
        await File.WriteAllTextAsync(bad, "this is not parquet at all");

        var error = await Assert.ThrowsAsync<HubPublishException>(() => HubPublisher.PublishAsync(Path.GetDirectoryName(bad)!, hub.Options(), CancellationToken.None));

        Assert.StartsWith($"{bad}: not a readable Parquet file", error.Message);
        Assert.Empty(hub.Server.Repos);
    }
}

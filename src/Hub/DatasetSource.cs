using System.Text.Json;

namespace Distil.Hub;

/// <summary>
/// What gets published: the dataset's Parquet files, its card (README.md, optional) and the pipeline
/// definition (optional). <see cref="FromFolder"/> finds them in a run folder.
/// </summary>
public sealed record DatasetSource(
    IReadOnlyList<string> ParquetFiles,
    string? CardFile,
    string? PipelineFile,
    string? PipelineName,
    string Folder)
{
    /// <summary>
    /// Locates the dataset in <paramref name="folder"/>: the Parquet files listed in manifest.json's output
    /// files when there is a manifest, else the *.parquet files of the folder or of its <c>output/</c> subfolder.
    /// The card is the README.md beside the Parquet; the definition is pipeline.json (or the manifest's).
    /// </summary>
    public static DatasetSource FromFolder(string folder)
    {
        var root = Path.GetFullPath(folder);
        if (!Directory.Exists(root))
        {
            throw new HubPublishException($"{root}: no such folder (expected a run folder such as runs/<pipeline>/<fingerprint>)");
        }

        var manifest = Manifest.TryRead(root);
        if (manifest?.Status is { } status && status != "succeeded")
        {
            throw new HubPublishException(
                $"{Path.Combine(root, "manifest.json")}: the run has status '{status}'{(manifest.Error is null ? "" : $" ({manifest.Error})")}; "
                + "only a finished run is published (run it again to resume, then publish)");
        }

        var parquet = manifest?.OutputFiles.Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)).ToList() ?? [];
        var missing = parquet.Where(f => !File.Exists(f)).ToList();
        if (missing.Count > 0)
        {
            throw new HubPublishException($"{Path.Combine(root, "manifest.json")}: lists output files that do not exist: {string.Join(", ", missing)}");
        }

        if (parquet.Count == 0)
        {
            parquet = ParquetIn(root);
            if (parquet.Count == 0)
            {
                parquet = ParquetIn(Path.Combine(root, "output"));
            }
        }

        if (parquet.Count == 0)
        {
            throw new HubPublishException(
                $"{root}: no Parquet dataset found (looked at manifest.json's output files, *.parquet in the folder and in its output/ subfolder)");
        }

        // Files in the config/split layout sit one folder below their card.
        var dataFolder = ConfigLayout.TryParse(parquet[0], out var layoutRoot, out _, out _, out _) ? layoutRoot : Path.GetDirectoryName(parquet[0])!;
        var card = new[] { Path.Combine(dataFolder, "README.md"), Path.Combine(root, "README.md") }.FirstOrDefault(File.Exists);
        var pipeline = new[] { Path.Combine(root, "pipeline.json"), Path.Combine(dataFolder, "pipeline.json"), manifest?.DefinitionFile }
            .FirstOrDefault(p => p is not null && File.Exists(p));
        return new DatasetSource(parquet, card, pipeline, manifest?.Pipeline, root);
    }

    private static List<string> ParquetIn(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*.parquet").Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The few fields of the run manifest the publisher needs; tolerant of snake_case and PascalCase.</summary>
    private sealed record Manifest(string? Pipeline, IReadOnlyList<string> OutputFiles, string? DefinitionFile, string? Status, string? Error)
    {
        public static Manifest? TryRead(string root)
        {
            var path = Path.Combine(root, "manifest.json");
            if (!File.Exists(path))
            {
                return null;
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            }
            catch (JsonException e)
            {
                throw new HubPublishException($"{path}: not valid JSON (line {e.LineNumber + 1}): {e.Message}");
            }

            using (document)
            {
                var json = document.RootElement;
                var files = new List<string>();
                if (Property(json, "output_files", "OutputFiles") is { ValueKind: JsonValueKind.Array } list)
                {
                    foreach (var item in list.EnumerateArray().Where(i => i.ValueKind == JsonValueKind.String))
                    {
                        files.Add(Path.GetFullPath(Path.Combine(root, item.GetString()!)));
                    }
                }

                var pipeline = Property(json, "pipeline", "Pipeline") is { ValueKind: JsonValueKind.String } p ? p.GetString() : null;
                var definition = Property(json, "definition_file", "DefinitionFile") is { ValueKind: JsonValueKind.String } d
                    ? Path.GetFullPath(Path.Combine(root, d.GetString()!))
                    : null;
                var status = Property(json, "status", "Status") is { ValueKind: JsonValueKind.String } st ? st.GetString() : null;
                var error = Property(json, "error", "Error") is { ValueKind: JsonValueKind.String } er ? er.GetString() : null;
                return new Manifest(pipeline, files, definition, status, error);
            }
        }

        private static JsonElement? Property(JsonElement json, params string[] names)
        {
            if (json.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            foreach (var name in names)
            {
                if (json.TryGetProperty(name, out var value))
                {
                    return value;
                }
            }

            return null;
        }
    }
}

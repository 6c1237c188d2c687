using System.Text;
using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// A parsed and validated pipeline. Everything that can be checked before running is checked here
/// (JSON syntax, step types and parameters, the graph, the columns each step needs), and each error
/// is a <see cref="PipelineDefinitionException"/> naming the file, line and JSON path.
/// </summary>
public sealed class PipelineDefinition
{
    private static readonly HashSet<string> TopLevelKeys = new(StringComparer.Ordinal) { "name", "description", "models", "steps", "schedule" };

    private PipelineDefinition(string name, string? file, string json, IReadOnlyDictionary<string, StepParameters> models, string? schedule, IReadOnlyList<StepDefinition> steps)
    {
        Name = name;
        File = file is null ? null : Path.GetFullPath(file);
        Json = json;
        Models = models;
        Schedule = schedule;
        Steps = steps;
    }

    public string Name { get; }

    /// <summary>The definition file (full path), or null when parsed from text.</summary>
    public string? File { get; }

    /// <summary>The raw text, as written (part of the run fingerprint).</summary>
    public string Json { get; }

    public IReadOnlyDictionary<string, StepParameters> Models { get; }

    /// <summary>The cron expression of <c>schedule.cron</c>, or null.</summary>
    public string? Schedule { get; }

    /// <summary>Steps in dependency order (every step after its predecessors; ties keep the file's order).</summary>
    public IReadOnlyList<StepDefinition> Steps { get; }

    public StepDefinition this[string stepName] => Steps.First(s => s.Name == stepName);

    public static PipelineDefinition Load(string path, StepRegistry registry)
    {
        if (!System.IO.File.Exists(path))
        {
            throw new PipelineDefinitionException("pipeline definition not found", path);
        }

        return Parse(System.IO.File.ReadAllText(path), path, registry);
    }

    public static PipelineDefinition Parse(string json, string? file, StepRegistry registry)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new PipelineDefinitionException($"not valid JSON: {FirstSentence(e.Message)}", file, e.LineNumber + 1, e.Path, e);
        }

        var lines = JsonLineMap.Build(Encoding.UTF8.GetBytes(json));
        var top = new StepParameters(root, "$", file, lines.LineOf);
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw top.Error(null, "a pipeline definition is a JSON object with \"name\" and \"steps\"");
        }

        foreach (var property in root.EnumerateObject())
        {
            if (!TopLevelKeys.Contains(property.Name))
            {
                throw top.Error(property.Name, $"unknown key '{property.Name}'; a definition has: {string.Join(", ", TopLevelKeys)}");
            }
        }

        var name = top.RequireString("name");
        if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name is "." or "..")
        {
            throw top.Error("name", $"'{name}' cannot be a folder name (the run directory is runs/<name>)");
        }

        var models = ReadModels(top, file, lines);
        var schedule = ReadSchedule(top, root, file, lines);
        var steps = ReadSteps(top, root, file, lines, registry, models);
        var ordered = PipelineGraph.Validate(steps, top);
        return new PipelineDefinition(name, file, json, models, schedule, ordered);
    }

    /// <summary>Step (and so sink) names become file and folder names under the run folder: no separators, no '..'.</summary>
    private static bool IsFileSafeName(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    private static Dictionary<string, StepParameters> ReadModels(StepParameters top, string? file, JsonLineMap lines)
    {
        var models = new Dictionary<string, StepParameters>(StringComparer.Ordinal);
        if (top.Get("models") is not { } element)
        {
            return models;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw top.Error("models", "'models' must be an object of named models");
        }

        foreach (var model in element.EnumerateObject())
        {
            var path = $"$.models.{model.Name}";
            var parameters = new StepParameters(model.Value, path, file, lines.LineOf);
            if (model.Value.ValueKind != JsonValueKind.Object)
            {
                throw parameters.Error(null, $"model '{model.Name}' must be an object");
            }

            parameters.RequireString("type");
            models[model.Name] = parameters;
        }

        return models;
    }

    private static string? ReadSchedule(StepParameters top, JsonElement root, string? file, JsonLineMap lines)
    {
        if (top.Get("schedule") is not { } element)
        {
            return null;
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString();
        }

        var schedule = new StepParameters(element, "$.schedule", file, lines.LineOf);
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw top.Error("schedule", "'schedule' must be an object like {\"cron\": \"0 3 * * *\"}");
        }

        return schedule.RequireString("cron");
    }

    private static List<StepDefinition> ReadSteps(StepParameters top, JsonElement root, string? file, JsonLineMap lines, StepRegistry registry, Dictionary<string, StepParameters> models)
    {
        if (top.Get("steps") is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
        {
            throw top.Error(top.Has("steps") ? "steps" : null, "'steps' must be a non-empty list of steps");
        }

        var steps = new List<StepDefinition>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var element in array.EnumerateArray())
        {
            var parameters = new StepParameters(element, $"$.steps[{index++}]", file, lines.LineOf);
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw parameters.Error(null, "a step must be an object with \"name\" and \"type\"");
            }

            var name = parameters.RequireString("name");
            if (!IsFileSafeName(name))
            {
                throw parameters.Error("name", $"step name '{name}' may use only letters, digits, '_', '.' and '-' (and is not '.' or '..'): it names files under the run folder");
            }

            if (!seen.Add(name))
            {
                throw parameters.Error("name", $"step name '{name}' is used twice; step names must be unique");
            }

            var typeName = parameters.RequireString("type");
            if (!registry.TryGet(typeName, out var type))
            {
                throw parameters.Error("type", $"unknown step type '{typeName}'; known types: {string.Join(", ", registry.Types.Select(t => t.Name))}");
            }

            foreach (var property in element.EnumerateObject())
            {
                if (!StepRegistry.CommonParameters.Contains(property.Name) && !type.Parameters.Contains(property.Name))
                {
                    var accepted = type.Parameters.Count == 0 ? "none besides the common ones" : string.Join(", ", type.Parameters.Order(StringComparer.Ordinal));
                    throw parameters.Error(property.Name, $"step '{name}' of type '{typeName}' has no parameter '{property.Name}'; it accepts: {accepted}");
                }
            }

            if (type.Parameters.Contains("model") && parameters.GetString("model") is { } model && !models.ContainsKey(model))
            {
                throw parameters.Error("model", $"model '{model}' is not defined in \"models\" (defined: {(models.Count == 0 ? "none" : string.Join(", ", models.Keys))})");
            }

            var batchSize = parameters.GetInt32("input_batch_size", StepDefinition.DefaultBatchSize);
            if (batchSize < 1)
            {
                throw parameters.Error("input_batch_size", "'input_batch_size' must be at least 1");
            }

            var parallelism = parameters.GetInt32("max_parallelism", 1);
            if (parallelism < 1)
            {
                throw parameters.Error("max_parallelism", "'max_parallelism' must be at least 1");
            }

            var step = type.Create(parameters);
            steps.Add(new StepDefinition(type, parameters, step)
            {
                InputBatchSize = batchSize,
                MaxParallelism = parallelism,
                InputMappings = ReadMappings(parameters, "input_mappings"),
                OutputMappings = ReadMappings(parameters, "output_mappings"),
            });
        }

        return steps;
    }

    private static Dictionary<string, string> ReadMappings(StepParameters parameters, string key)
    {
        var mappings = new Dictionary<string, string>(StringComparer.Ordinal);
        if (parameters.Get(key) is not { } element)
        {
            return mappings;
        }

        if (element.ValueKind != JsonValueKind.Object || element.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
        {
            throw parameters.Error(key, $"'{key}' must be an object of column names, e.g. {{\"instruction\": \"prompt\"}}");
        }

        foreach (var property in element.EnumerateObject())
        {
            mappings[property.Name] = property.Value.GetString()!;
        }

        return mappings;
    }

    private static string FirstSentence(string message)
    {
        // The parser appends its own "LineNumber: … | BytePositionInLine: …"; the exception states the line once.
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        }

        return cut > 0 ? message[..cut] : message;
    }
}

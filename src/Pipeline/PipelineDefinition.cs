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
    private static readonly HashSet<string> TopLevelKeys = new(StringComparer.Ordinal) { "name", "description", "models", "devices", "steps", "schedule" };

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

    /// <summary>The <c>devices</c> object: per device name (<c>cpu</c>, <c>cuda:0</c>) its settings, such as
    /// <c>memory_budget</c>, which the model provider checks before opening any model.</summary>
    public IReadOnlyDictionary<string, StepParameters> Devices { get; private init; } = new Dictionary<string, StepParameters>();

    /// <summary>The cron expression of <c>schedule.cron</c>, or null.</summary>
    public string? Schedule { get; }

    /// <summary>Steps in dependency order (every step after its predecessors; ties keep the file's order).</summary>
    public IReadOnlyList<StepDefinition> Steps { get; }

    public StepDefinition this[string stepName] => Steps.First(s => s.Name == stepName);

    public static PipelineDefinition Load(string path, StepRegistry registry)
    {
        if (!System.IO.File.Exists(path) && !Directory.Exists(path))
        {
            throw new PipelineDefinitionException("pipeline definition not found", path);
        }

        if (RegularFile.Problem(path) is { } notAFile)
        {
            throw new PipelineDefinitionException($"the pipeline definition {notAFile}", path);
        }

        if (new FileInfo(path).Length > DefinitionLimits.MaxFileBytes)
        {
            throw new PipelineDefinitionException($"the pipeline definition is larger than {DefinitionLimits.MaxFileBytes >> 20} MiB", path);
        }

        var bytes = System.IO.File.ReadAllBytes(path);
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            var offset = Utf8Text.InvalidOffset(bytes);
            throw new PipelineDefinitionException($"not valid UTF-8 at byte {offset} (save the file as UTF-8)", path, Utf8Text.LineAt(bytes, offset), inner: e);
        }

        return Parse(text.TrimStart('\uFEFF'), path, registry);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Parses and checks a definition. Every problem found is reported (<see cref="PipelineDefinitionException.Problems"/>),
    /// each located; the graph and column checks run once every step could be read.
    /// </summary>
    public static PipelineDefinition Parse(string json, string? file, StepRegistry registry)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = DefinitionLimits.MaxDepth });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            var depth = e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase) ? $" (nesting is limited to {DefinitionLimits.MaxDepth} levels)" : string.Empty;
            throw new PipelineDefinitionException($"not valid JSON: {FirstSentence(e.Message)}{depth}", file, e.LineNumber + 1, e.Path, e);
        }

        var lines = JsonLineMap.Build(Encoding.UTF8.GetBytes(json));
        var problems = new DefinitionProblems();
        foreach (var (path, line, problem) in lines.BadStrings)
        {
            problems.Add(new PipelineDefinitionException($"{problem}; strings must be valid Unicode text without NUL", file, line, path));
        }

        problems.ThrowIfAny(); // every later read of such a string would fail

        var top = new StepParameters(root, "$", file, lines.LineOf);
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw top.Error(null, "a pipeline definition is a JSON object with \"name\" and \"steps\"");
        }

        foreach (var property in root.EnumerateObject())
        {
            if (!TopLevelKeys.Contains(property.Name))
            {
                problems.Add(top.Error(property.Name, $"unknown key {PipelineDefinitionException.Quote(property.Name)}; a definition has: {string.Join(", ", TopLevelKeys)}"));
            }
        }

        var name = problems.Check(() => ReadName(top), "?");
        var models = ReadModels(top, file, lines, registry, problems);
        var schedule = problems.Check<string?>(() => ReadSchedule(top, file, lines), null);
        var steps = ReadSteps(top, root, file, lines, registry, models, problems);
        problems.ThrowIfAny();
        var ordered = PipelineGraph.Validate(steps, top);
        return new PipelineDefinition(name, file, json, models, schedule, ordered) { Devices = ReadDevices(top, file, lines) };
    }

    /// <summary>Step (and so sink) names become file and folder names under the run folder: no separators, no '..'.</summary>
    private static bool IsFileSafeName(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    private static string ReadName(StepParameters top)
    {
        var name = top.RequireString("name");
        if (name.Length == 0 || name.Length > 200 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name is "." or "..")
        {
            throw top.Error("name", $"{PipelineDefinitionException.Quote(name)} cannot be a folder name (the run directory is runs/<name>; use up to 200 letters, digits, '-', '_', '.')");
        }

        return name;
    }

    private static Dictionary<string, StepParameters> ReadModels(StepParameters top, string? file, JsonLineMap lines, StepRegistry registry, DefinitionProblems problems)
    {
        var models = new Dictionary<string, StepParameters>(StringComparer.Ordinal);
        if (top.Get("models") is not { } element)
        {
            return models;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            problems.Add(top.Error("models", "'models' must be an object of named models, e.g. {\"gen-a\": {\"type\": \"local\", \"path\": \"models/a\"}}"));
            return models;
        }

        foreach (var model in element.EnumerateObject())
        {
            var path = $"$.models.{model.Name}";
            var parameters = new StepParameters(model.Value, path, file, lines.LineOf);
            models[model.Name] = parameters; // named even when wrong, so steps that use it are not also reported
            if (model.Value.ValueKind != JsonValueKind.Object)
            {
                problems.Add(parameters.Error(null, $"model {PipelineDefinitionException.Quote(model.Name)} must be an object like {{\"type\": \"local\", \"path\": \"models/a\"}}, not {Kind(model.Value)}"));
                continue;
            }

            if (registry.ModelValidator is { } validate)
            {
                validate(model.Name, parameters, problems);
            }
            else
            {
                problems.Check(() => parameters.RequireString("type"));
            }
        }

        return models;
    }

    private static Dictionary<string, StepParameters> ReadDevices(StepParameters top, string? file, JsonLineMap lines)
    {
        var devices = new Dictionary<string, StepParameters>(StringComparer.Ordinal);
        if (top.Get("devices") is not { } element)
        {
            return devices;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw top.Error("devices", "'devices' must be an object like {\"cuda:0\": {\"memory_budget\": \"80GiB\"}}");
        }

        foreach (var device in element.EnumerateObject())
        {
            var parameters = new StepParameters(device.Value, $"$.devices.{device.Name}", file, lines.LineOf);
            if (device.Value.ValueKind != JsonValueKind.Object)
            {
                throw parameters.Error(null, $"device '{device.Name}' must be an object like {{\"memory_budget\": \"16GiB\"}}");
            }

            foreach (var key in device.Value.EnumerateObject())
            {
                if (key.Name != "memory_budget")
                {
                    throw parameters.Error(key.Name, $"device '{device.Name}': unknown key '{key.Name}'; accepted: memory_budget");
                }
            }

            devices[device.Name] = parameters;
        }

        return devices;
    }

    private static string? ReadSchedule(StepParameters top, string? file, JsonLineMap lines)
    {
        if (top.Get("schedule") is not { } element)
        {
            return null;
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            return CronSchedule.Check(element.GetString()!, top, "schedule");
        }

        var schedule = new StepParameters(element, "$.schedule", file, lines.LineOf);
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw top.Error("schedule", "'schedule' must be an object like {\"cron\": \"0 3 * * *\"}");
        }

        foreach (var property in element.EnumerateObject().Where(p => p.Name != "cron"))
        {
            throw schedule.Error(property.Name, $"unknown key {PipelineDefinitionException.Quote(property.Name)} in 'schedule'; it has only \"cron\"");
        }

        return CronSchedule.Check(schedule.RequireString("cron"), schedule, "cron");
    }

    private static List<StepDefinition> ReadSteps(StepParameters top, JsonElement root, string? file, JsonLineMap lines, StepRegistry registry, Dictionary<string, StepParameters> models, DefinitionProblems problems)
    {
        if (top.Get("steps") is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
        {
            problems.Add(top.Error(top.Has("steps") ? "steps" : null, "'steps' must be a non-empty list of steps"));
            return [];
        }

        if (array.GetArrayLength() > DefinitionLimits.MaxSteps)
        {
            problems.Add(top.Error("steps", $"{array.GetArrayLength():N0} steps; a definition holds at most {DefinitionLimits.MaxSteps:N0}"));
            return [];
        }

        var steps = new List<StepDefinition>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var element in array.EnumerateArray())
        {
            var parameters = new StepParameters(element, $"$.steps[{index++}]", file, lines.LineOf);
            if (problems.Check<StepDefinition?>(() => ReadStep(element, parameters, registry, models, seen, problems), null) is { } step)
            {
                steps.Add(step);
            }
        }

        return steps;
    }

    /// <summary>One step, or null when it has problems (all recorded).</summary>
    private static StepDefinition? ReadStep(JsonElement element, StepParameters parameters, StepRegistry registry, Dictionary<string, StepParameters> models, HashSet<string> seen, DefinitionProblems problems)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw parameters.Error(null, $"a step must be an object with \"name\" and \"type\", not {Kind(element)}");
        }

        var before = problems.Count;
        var name = problems.Check<string?>(() => parameters.RequireString("name"), null);
        if (name is not null && !IsFileSafeName(name))
        {
            problems.Add(parameters.Error("name", $"step name {PipelineDefinitionException.Quote(name)} may use only letters, digits, '_', '.' and '-' (and is not '.' or '..'): it names files under the run folder"));
        }
        else if (name is not null && !seen.Add(name))
        {
            problems.Add(parameters.Error("name", $"step name {PipelineDefinitionException.Quote(name)} is used twice; step names must be unique"));
        }

        var typeName = problems.Check<string?>(() => parameters.RequireString("type"), null);
        StepType? type = null;
        if (typeName is not null && !registry.TryGet(typeName, out type))
        {
            problems.Add(parameters.Error("type", $"unknown step type {PipelineDefinitionException.Quote(typeName)}; known types: {string.Join(", ", registry.Types.Select(t => t.Name))}"));
        }

        foreach (var property in element.EnumerateObject())
        {
            if (type is not null && !StepRegistry.CommonParameters.Contains(property.Name) && !type.Parameters.Contains(property.Name))
            {
                var accepted = type.Parameters.Count == 0 ? "none besides the common ones" : string.Join(", ", type.Parameters.Order(StringComparer.Ordinal));
                problems.Add(parameters.Error(property.Name, $"step '{parameters.Name}' of type '{typeName}' has no parameter {PipelineDefinitionException.Quote(property.Name)}; it accepts: {accepted}"));
            }
        }

        problems.Check(() =>
        {
            if (type is not null && type.Parameters.Contains("model") && parameters.GetString("model") is { } model && !models.ContainsKey(model))
            {
                throw parameters.Error("model", $"model {PipelineDefinitionException.Quote(model)} is not defined in \"models\" (defined: {(models.Count == 0 ? "none" : string.Join(", ", models.Keys))})");
            }
        });
        var batchSize = problems.Check(() => parameters.GetInt32("input_batch_size", StepDefinition.DefaultBatchSize, 1, StepDefinition.MaxBatchSize), 1);
        var parallelism = problems.Check(() => parameters.GetInt32("max_parallelism", 1, 1, StepDefinition.MaxParallelismLimit), 1);
        var inputMappings = problems.Check(() => ReadMappings(parameters, "input_mappings"), new Dictionary<string, string>());
        var outputMappings = problems.Check(() => ReadMappings(parameters, "output_mappings"), new Dictionary<string, string>());
        problems.Check(() => parameters.GetStringList("after"));
        problems.Check(() => parameters.GetString("description"));
        // The type's own parameters are checked even when a common one is wrong, so one pass reports both.
        var step = type is null ? null : problems.Check<IStep?>(() => type.Create(parameters), null);
        if (step is IModelRequirement requirement && parameters.GetString("model") is { } served && models.TryGetValue(served, out var entry)
            && requirement.Refuse(served, entry) is { } refusal)
        {
            problems.Add(parameters.Error("model", refusal));
        }

        if (type is null || step is null || problems.Count > before)
        {
            return null;
        }

        return new StepDefinition(type, parameters, step)
        {
            InputBatchSize = batchSize,
            MaxParallelism = parallelism,
            InputMappings = inputMappings,
            OutputMappings = outputMappings,
        };
    }

    /// <summary>The JSON kind of a value, in words, for "must be an object, not …".</summary>
    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"the string {PipelineDefinitionException.Quote(value.GetString())}",
        JsonValueKind.Number => $"the number {PipelineDefinitionException.Quote(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        JsonValueKind.Null => "null",
        _ => "an object",
    };

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

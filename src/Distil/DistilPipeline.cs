using Distil.Pipeline.Runtime;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;

namespace Distil;

/// <summary>
/// A pipeline definition built in C#: each call appends what the JSON form would hold (a model, a step), so the
/// result is the same <see cref="PipelineDefinition"/> as the equivalent JSON file, parsed and checked by the same
/// code, and <see cref="RunAsync"/> runs it with the CLI's runner. Models may be live <see cref="IChatClient"/>s of
/// the program (<see cref="Model(string, IChatClient, string, string?, ModelPricing?)"/>). docs/library.md shows it end to end.
/// </summary>
public sealed class DistilPipeline
{
    private static readonly JsonSerializerOptions Settings = new(SnakeCaseJson.Options)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    private readonly JsonObject _root;
    private readonly JsonObject _models = [];
    private readonly JsonArray _steps = [];
    private readonly Dictionary<string, InProcessModel> _clients = new(StringComparer.Ordinal);
    private readonly StepRegistry _registry;
    private string? _baseDirectory;

    private DistilPipeline(string name, StepRegistry registry)
    {
        _root = new JsonObject { ["name"] = name };
        _registry = registry;
        // In-process placeholders are checked here; every other model entry as the CLI checks it.
        _registry.ModelValidator = InProcessModel.ValidatorOver(registry.ModelValidator ?? ModelCatalog.Validate);
    }

    /// <param name="name">The pipeline's name (the run folder is <c>runs/&lt;name&gt;</c>).</param>
    /// <param name="registry">The step types it may use (default: every built-in one); pass your own for custom steps.</param>
    public static DistilPipeline Create(string name, StepRegistry? registry = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new DistilPipeline(name, registry ?? BuiltInSteps.CreateRegistry());
    }

    public string Name => (string)_root["name"]!;

    public DistilPipeline Description(string description) => Set("description", JsonValue.Create(description));

    /// <summary>Stops a run cleanly once its models have cost this many US dollars (<c>budget_usd</c>).</summary>
    public DistilPipeline Budget(decimal usd) => Set("budget_usd", JsonValue.Create(usd));

    /// <summary>
    /// The folder relative paths start at, as if the definition were a file there (default: the current directory
    /// when it is built).
    /// </summary>
    public DistilPipeline RelativeTo(string directory)
    {
        _baseDirectory = Path.GetFullPath(directory);
        return this;
    }

    /// <summary>A local ONNX model (<c>type: local</c>).</summary>
    public DistilPipeline LocalModel(string name, LocalModelSettings model) => Model(name, "local", model);

    /// <summary>An OpenAI-compatible served model (<c>type: openai</c>).</summary>
    public DistilPipeline ServedModel(string name, ServedModelSettings model) => Model(name, "openai", model);

    /// <summary>
    /// Any <see cref="IChatClient"/> of this program as the model <paramref name="name"/>: a cloud SDK's client, an
    /// Ollama client, a local engine, each with whatever <c>ChatClientBuilder</c> decorators the program wrapped it in
    /// (every call goes through them). The program keeps ownership: runs never dispose it.
    /// </summary>
    /// <param name="id">Names the client in the JSON form and is, with <paramref name="version"/>, its whole identity in
    /// the step cache: a run reuses cached batches only from a client registered with the same id and version.</param>
    /// <param name="version">Change it whenever what the client answers changes (another model behind it, new settings).</param>
    /// <param name="price">What its tokens cost, for the manifest, the card and <c>budget_usd</c> (null: not counted).</param>
    public DistilPipeline Model(string name, IChatClient client, string id, string? version = null, ModelPricing? price = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        _clients[name] = new InProcessModel(client, id, version);
        var entry = new JsonObject { ["type"] = InProcessModel.TypeName, ["client"] = id };
        if (version is not null)
        {
            entry["version"] = version;
        }

        if (price is not null)
        {
            entry["price"] = ToObject(price);
        }

        return Model(name, entry);
    }

    /// <summary>A <c>models</c> entry as JSON, for model types the typed methods do not cover.</summary>
    public DistilPipeline Model(string name, JsonObject entry)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (_models.ContainsKey(name))
        {
            throw new ArgumentException($"model '{name}' is defined twice", nameof(name));
        }

        _models[name] = entry.DeepClone();
        return this;
    }

    /// <summary><c>load_jsonl</c>: one row per line of a JSON Lines file.</summary>
    public DistilPipeline LoadJsonl(string name, string path, StepOptions? options = null) =>
        Step("load_jsonl", name, new JsonObject { ["path"] = path }, options);

    /// <summary><c>text_generation</c> with <paramref name="model"/> and its sampling settings.</summary>
    public DistilPipeline Generate(string name, string model, GenerationSettings? generation = null, StepOptions? options = null) =>
        Generate(name, new TextGenerationTask(model) { Generation = generation }, options);

    /// <summary><c>text_generation</c> with every key of the task.</summary>
    public DistilPipeline Generate(string name, TextGenerationTask task, StepOptions? options = null) =>
        Step("text_generation", name, task, options);

    /// <summary><c>combine_columns</c>: joins branches by row id; each of <paramref name="columns"/> becomes a list.</summary>
    public DistilPipeline Combine(string name, IReadOnlyList<string> columns, IReadOnlyList<string>? outputColumns = null, StepOptions? options = null)
    {
        var parameters = new JsonObject { ["columns"] = Array(columns) };
        if (outputColumns is not null)
        {
            parameters["output_columns"] = Array(outputColumns);
        }

        return Step("combine_columns", name, parameters, options);
    }

    /// <summary><c>ultrafeedback</c>: a judge rates each row's generations 1 to 5.</summary>
    public DistilPipeline UltraFeedback(string name, UltraFeedbackTask judge, StepOptions? options = null) =>
        Step("ultrafeedback", name, judge, options);

    /// <summary><c>preference_pairs</c>: chosen and rejected answers from the ratings, TRL DPO columns.</summary>
    public DistilPipeline PreferencePairs(string name, PreferencePairsSettings? settings = null, StepOptions? options = null) =>
        Step("preference_pairs", name, settings ?? new PreferencePairsSettings(), options);

    /// <summary><c>write_parquet</c>: <paramref name="path"/> in the output folder (all columns when <paramref name="columns"/> is null).</summary>
    public DistilPipeline WriteParquet(string name, string path, IReadOnlyList<string>? columns = null, StepOptions? options = null)
    {
        var parameters = new JsonObject { ["path"] = path };
        if (columns is not null)
        {
            parameters["columns"] = Array(columns);
        }

        return Step("write_parquet", name, parameters, options);
    }

    /// <summary><c>dataset_card</c>: a Hugging Face dataset card (README.md) beside <paramref name="dataFiles"/>.</summary>
    public DistilPipeline DatasetCard(string name, IReadOnlyList<string>? dataFiles = null, StepOptions? options = null)
    {
        var parameters = new JsonObject();
        if (dataFiles is not null)
        {
            parameters["data_files"] = Array(dataFiles);
        }

        return Step("dataset_card", name, parameters, options);
    }

    /// <summary>
    /// Any registered step type with its own keys: <paramref name="parameters"/> is a <see cref="JsonObject"/>, or any
    /// object whose properties become snake_case keys (records, anonymous objects; null properties left out).
    /// </summary>
    public DistilPipeline Step(string type, string name, object? parameters = null, StepOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var step = new JsonObject { ["name"] = name, ["type"] = type };
        var common = ToObject(options);
        if (common.Remove("after", out var after))
        {
            step["after"] = after;
        }

        foreach (var (key, value) in ToObject(parameters).Concat(common).ToList())
        {
            if (step.ContainsKey(key))
            {
                throw new ArgumentException($"step '{name}': key '{key}' is given twice", nameof(parameters));
            }

            step[key] = value?.DeepClone();
        }

        _steps.Add(step);
        return this;
    }

    /// <summary>The definition as JSON, the form <c>distil run</c> reads. An in-process model appears as its
    /// placeholder, <c>{"type": "in_process", "client": id}</c>, which only the program that registered it can run.</summary>
    public string ToJson()
    {
        var root = (JsonObject)_root.DeepClone();
        if (_models.Count > 0)
        {
            root["models"] = _models.DeepClone();
        }

        root["steps"] = _steps.DeepClone();
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Parses and checks the definition (every mistake reported, as for a file; the JSON paths locate it).</summary>
    public PipelineDefinition Build() =>
        PipelineDefinition.Parse(ToJson(), _baseDirectory is null ? null : Path.Combine(_baseDirectory, $"{Name}.json"), _registry);

    /// <summary>
    /// Runs the pipeline with the CLI's runner: resumable from its run folder, cached per batch, outputs in
    /// <see cref="RunOptions.OutputDirectory"/>. Local and served models open through <see cref="RunOptions.Models"/>
    /// (default: the catalog the CLI uses); in-process clients are the ones given to <see cref="Model(string, IChatClient, string, string?, ModelPricing?)"/>.
    /// </summary>
    public Task<RunManifest> RunAsync(RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        var definition = Build();
        options ??= new RunOptions();
        var models = new InProcessModels(new Dictionary<string, InProcessModel>(_clients), options.Models ?? new ModelCatalog());
        return new PipelineRunner().RunAsync(definition, options with { Models = models }, cancellationToken);
    }

    private DistilPipeline Set(string key, JsonNode? value)
    {
        _root[key] = value;
        return this;
    }

    private DistilPipeline Model(string name, string type, object settings)
    {
        var entry = new JsonObject { ["type"] = type };
        foreach (var (key, value) in ToObject(settings).ToList())
        {
            entry[key] = value?.DeepClone();
        }

        return Model(name, entry);
    }

    private static JsonObject ToObject(object? value) => value switch
    {
        null => [],
        JsonObject json => (JsonObject)json.DeepClone(),
        _ => JsonSerializer.SerializeToNode(value, value.GetType(), Settings) as JsonObject
            ?? throw new ArgumentException($"{value.GetType().Name} does not serialize to a JSON object", nameof(value)),
    };

    private static JsonArray Array(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
}

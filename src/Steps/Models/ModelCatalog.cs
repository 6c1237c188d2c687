using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using Distil.Engine.Building;
using Distil.Engine.Reward;
using Distil.Pipeline;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Distil.Steps;

/// <summary>
/// Opens the models of a definition. <c>type: local</c> is an ONNX model folder run by Distil.Engine (built first
/// from <c>build</c> when the folder does not exist yet); <c>type: openai</c> is any OpenAI-compatible endpoint
/// (OpenAI, vLLM, TGI, Hugging Face endpoints) through Microsoft.Extensions.AI.OpenAI, with retries and a
/// concurrency limit, or with <c>"batch": true</c> through the provider's batch API (<see cref="BatchApiChatClient"/>).
/// Every mistake in a model entry is reported with the file, line and JSON path.
/// </summary>
public sealed class ModelCatalog : IModelProvider
{
    private static readonly HashSet<string> LocalKeys = ["type", "path", "build", "device", "threads", "chat_template", "chat_template_kwargs", "max_batch_size", "deterministic", "prefix_cache_mb", "variant", "context", "price", "description"];
    private static readonly HashSet<string> OpenAIKeys = ["type", "endpoint", "model", "api_key_env", "max_concurrency", "initial_concurrency", "adaptive_concurrency", "max_retries", "timeout_s", "requests_per_minute", "tokens_per_minute", "price", "description", "batch", "poll_seconds", "api_version"];

    /// <summary>
    /// Checks one <c>models</c> entry without opening anything (registered as the definition's model validator, so
    /// validate, run, submit and the service all see the same errors): keys, types and ranges, a model folder that
    /// exists or a valid <c>build</c> block, environment variables that must be set.
    /// </summary>
    public static void Validate(string name, StepParameters definition, DefinitionProblems problems)
    {
        switch (problems.Check<string?>(() => RequireType(name, definition), null))
        {
            case "local":
                RejectUnknownKeys(name, definition, LocalKeys, problems);
                problems.Check(() => LocalFolder(name, definition));
                LocalModels.ReadOptions(name, definition, problems);
                break;
            case "openai":
                RejectUnknownKeys(name, definition, OpenAIKeys, problems);
                ReadRemote(name, definition, problems);
                break;
        }

        problems.Check(() => definition.GetString("description"));
        ModelPrice.Read(name, definition, problems);
    }

    public ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, CancellationToken cancellationToken) =>
        OpenAsync(name, definition, null, cancellationToken);

    /// <param name="runDirectory">Where a model in batch mode keeps its batches' ids (null outside a run: nothing to resume).</param>
    public async ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, string? runDirectory, CancellationToken cancellationToken)
    {
        var problems = new DefinitionProblems();
        Validate(name, definition, problems);
        problems.ThrowIfAny();
        IChatClient client;
        if (definition.GetString("type") == "local")
        {
            client = await OpenLocalAsync(name, definition, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var settings = ReadRemote(name, definition, problems);
            client = settings.Batch is { } batch
                ? OpenBatch(name, settings, batch, runDirectory is null ? null : BatchApiChatClient.JournalDirectory(runDirectory, name))
                : OpenRemote(settings);
        }

        return new MeteredChatClient(client, name);
    }

    private static string RequireType(string name, StepParameters definition) => definition.GetString("type") switch
    {
        null => throw definition.Error("type", $"model '{name}' needs a \"type\": \"local\" or \"openai\""),
        var type when type is "local" or "openai" => type,
        InProcessModel.TypeName => throw definition.Error("type", $"model '{name}' is an in-process IChatClient ('{definition.GetString("client")}'): it exists only in the C# program that built this definition (DistilPipeline.Model), so this JSON cannot run it by itself; run it from that program, or replace the entry with a local or openai model"),
        var other => throw definition.Error("type", $"model '{name}': unknown type {PipelineDefinitionException.Quote(other)}; choose local or openai"),
    };

    public void CheckBeforeOpening(PipelineDefinition definition) => MemoryPlan.Check(definition);

    /// <summary>
    /// Local: the content of every file in the model folder (weights, ONNX graph and external data, config,
    /// generation config, tokenizer, chat template; not READMEs or licences) plus the settings that change the
    /// arithmetic (chat template, device, and batch size unless the graph decodes batch-invariantly); not the folder's path, so a moved model is the same
    /// model. OpenAI-compatible: the endpoint and the model name.
    /// </summary>
    public async ValueTask<ModelIdentity> IdentifyAsync(string name, StepParameters definition, CancellationToken cancellationToken)
    {
        var type = definition.GetString("type");
        if (type != "local")
        {
            var endpoint = definition.GetString("endpoint") ?? "https://api.openai.com/v1";
            var model = definition.GetString("model");
            var digest = CanonicalJson.Digest(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", type);
                w.WriteString("endpoint", endpoint.TrimEnd('/'));
                w.WriteString("model", model);
                w.WriteEndObject();
            });
            return new ModelIdentity(name, digest, $"{type} {model} at {endpoint}");
        }

        var path = definition.GetPath("path") ?? throw definition.Error("path", $"model '{name}' needs a \"path\" to its model folder");
        var files = Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(path, f)).Where(DeterminesOutputs).Order(StringComparer.Ordinal).ToList()
            : [];
        var digests = new List<(string File, string Digest)>(files.Count);
        foreach (var file in files)
        {
            digests.Add((file, await FileDigests.OfAsync(Path.Combine(path, file), cancellationToken).ConfigureAwait(false)));
        }

        var settings = definition.Element;
        var deterministic = LocalModels.IsDeterministic(definition);
        var invariant = files.Count > 0 && LocalModels.IsBatchInvariant(path, definition);
        var identity = CanonicalJson.Digest(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "local");
            w.WriteBoolean("deterministic", deterministic);
            foreach (var property in settings.EnumerateObject().Where(p => p.Name is "chat_template" or "device" || (p.Name == "max_batch_size" && !deterministic && !invariant)).OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                w.WritePropertyName(property.Name);
                CanonicalJson.Write(w, property.Value);
            }

            w.WriteStartObject("files");
            foreach (var (file, digest) in digests)
            {
                w.WriteString(file.Replace('\\', '/'), digest);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        });
        var decoding = files.Count > 0 && RewardModel.IsRewardModelFolder(path)
            ? "reward model (sequence classifier): one score per response, independent of batching"
            : invariant
            ? "batch-invariant decoding (GroupQueryAttention over each row's own tokens, CPU): outputs independent of batching"
            : deterministic
                ? "deterministic: one request at a time, outputs independent of batching"
                : "batched decoding: with sampling, outputs may depend on batch companions (set deterministic for invariance)";
        return new ModelIdentity(name, identity, files.Count == 0 ? $"local {path} (not built yet); {decoding}" : $"local folder, {files.Count} files; {decoding}");
    }

    /// <summary>Documentation files and hidden files do not change what a model generates.</summary>
    private static bool DeterminesOutputs(string relative)
    {
        var file = Path.GetFileName(relative);
        return !file.StartsWith('.') && !relative.Split('/', '\\').Any(part => part.StartsWith('.'))
            && !file.StartsWith("README", StringComparison.OrdinalIgnoreCase) && !file.StartsWith("LICENSE", StringComparison.OrdinalIgnoreCase)
            && !file.EndsWith(".md", StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<IChatClient> OpenLocalAsync(string name, StepParameters definition, CancellationToken cancellationToken)
    {
        var (path, build) = LocalFolder(name, definition);
        if (build is { } recipe)
        {
            await ModelFolderBuilder.EnsureBuiltAsync(path, recipe.Preset, recipe.Seed, cancellationToken).ConfigureAwait(false);
        }

        return RewardModel.IsRewardModelFolder(path) ? RewardModelClient.Open(name, path, definition) : LocalModels.Open(name, path, definition);
    }

    /// <summary>The model folder, and the recipe to build it with when it does not exist yet.</summary>
    private static (string Path, (string Preset, ulong Seed)? Build) LocalFolder(string name, StepParameters definition)
    {
        var path = definition.GetPath("path") ?? throw definition.Error("path", $"model '{name}' needs a \"path\" to its model folder");
        if (File.Exists(path))
        {
            throw definition.Error("path", $"model '{name}': {path} is a file; \"path\" names the model folder (config.json, tokenizer, onnx/model.onnx)");
        }

        if (definition.Get("build") is { } build)
        {
            var recipe = ReadBuild(name, definition, build);
            return (path, ModelFolderBuilder.IsModelFolder(path) ? null : recipe);
        }

        return ModelFolderBuilder.IsModelFolder(path)
            ? (path, null)
            : throw definition.Error("path", $"model '{name}': no model folder at {path} (config.json missing); point \"path\" at a model folder or add \"build\": {{\"preset\": \"tiny\", \"seed\": 1}}");
    }

    private static (string Preset, ulong Seed) ReadBuild(string name, StepParameters definition, JsonElement build)
    {
        if (build.ValueKind != JsonValueKind.Object)
        {
            throw definition.Error("build", $"model '{name}': \"build\" must be an object like {{\"preset\": \"tiny\", \"seed\": 1}}");
        }

        var problems = new DefinitionProblems();
        foreach (var property in build.EnumerateObject())
        {
            if (property.Name is not ("preset" or "seed"))
            {
                problems.Add(definition.Error($"build.{property.Name}", $"model '{name}': unknown build option {PipelineDefinitionException.Quote(property.Name)}; use preset and seed"));
            }
        }

        var preset = build.TryGetProperty("preset", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : null;
        if (preset is null || !ModelPreset.Names.Contains(preset))
        {
            problems.Add(definition.Error("build.preset", $"model '{name}': \"preset\" must be one of: {string.Join(", ", ModelPreset.Names)}"));
        }

        ulong seed = 0;
        if (build.TryGetProperty("seed", out var s) && !(s.ValueKind == JsonValueKind.Number && s.TryGetUInt64(out seed)))
        {
            problems.Add(definition.Error("build.seed", $"model '{name}': \"seed\" must be an integer from 0 to {ulong.MaxValue}"));
        }

        problems.ThrowIfAny();
        return (preset!, seed);
    }

    private sealed record RemoteSettings(string Model, Uri Endpoint, string Key, int MaxConcurrency, int InitialConcurrency, bool AdaptiveConcurrency, int MaxRetries, double TimeoutSeconds, long? RequestsPerMinute, long? TokensPerMinute, BatchSettings? Batch);

    /// <summary>Batch mode's settings: how often to poll, and the Azure OpenAI api-version when the endpoint is Azure's.</summary>
    private sealed record BatchSettings(TimeSpan Poll, string? ApiVersion);

    /// <summary>The entry's endpoint settings; each bad field is recorded in <paramref name="problems"/>.</summary>
    private static RemoteSettings ReadRemote(string name, StepParameters definition, DefinitionProblems problems)
    {
        var model = problems.Check(
            () => definition.GetString("model") ?? throw definition.Error("model", $"model '{name}' needs the served \"model\" name, e.g. meta-llama/Llama-3.1-8B-Instruct"),
            string.Empty);
        var endpoint = problems.Check(
            () =>
            {
                var text = definition.GetString("endpoint") ?? "https://api.openai.com/v1";
                return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                    ? uri
                    : throw definition.Error("endpoint", $"model '{name}': \"endpoint\" must be an http(s) URL such as http://127.0.0.1:8000/v1, not {PipelineDefinitionException.Quote(text)}");
            },
            new Uri("http://127.0.0.1/"));
        var key = problems.Check(() => ReadKey(name, definition), string.Empty);
        var maxConcurrency = problems.Check(() => definition.GetInt32("max_concurrency", 8, 1, 4096), 8);
        var initialConcurrency = problems.Check(() => definition.GetInt32("initial_concurrency", Math.Min(maxConcurrency, 4), 1, maxConcurrency), 1);
        var adaptive = problems.Check(() => definition.GetBoolean("adaptive_concurrency", true), true);
        var maxRetries = problems.Check(() => definition.GetInt32("max_retries", 4, 0, 100), 4);
        var timeout = problems.Check(() => definition.GetDouble("timeout_s", 300, 0.001, 86_400), 300);
        var requestsPerMinute = problems.Check(() => definition.Has("requests_per_minute") ? definition.GetInt64("requests_per_minute", 0, 1, 100_000_000) : (long?)null, null);
        var tokensPerMinute = problems.Check(() => definition.Has("tokens_per_minute") ? definition.GetInt64("tokens_per_minute", 0, 1, 100_000_000_000) : (long?)null, null);
        return new RemoteSettings(model, endpoint, key, maxConcurrency, initialConcurrency, adaptive, maxRetries, timeout, requestsPerMinute, tokensPerMinute, ReadBatch(name, definition, problems));
    }

    private static readonly string[] BatchOnlyKeys = ["poll_seconds", "api_version"];

    private static BatchSettings? ReadBatch(string name, StepParameters definition, DefinitionProblems problems)
    {
        var batch = problems.Check(() => definition.GetBoolean("batch", false), false);
        if (!batch)
        {
            foreach (var key in BatchOnlyKeys.Where(definition.Has))
            {
                problems.Add(definition.Error(key, $"model '{name}': \"{key}\" applies to batch mode only; add \"batch\": true or remove it"));
            }

            return null;
        }

        var poll = problems.Check(() => definition.GetDouble("poll_seconds", 30, 0.001, 86_400), 30);
        var apiVersion = problems.Check(() => definition.GetString("api_version"), null);
        if (apiVersion is { Length: 0 })
        {
            problems.Add(definition.Error("api_version", $"model '{name}': \"api_version\" must name an Azure OpenAI api-version such as 2024-10-21"));
        }

        return new BatchSettings(TimeSpan.FromSeconds(poll), apiVersion);
    }

    private static BatchApiChatClient OpenBatch(string name, RemoteSettings settings, BatchSettings batch, string? journalDirectory) => new(
        name,
        settings.Model,
        settings.Endpoint,
        new BatchApi(settings.Endpoint, settings.Key, batch.ApiVersion, settings.MaxRetries, TimeSpan.FromSeconds(settings.TimeoutSeconds)),
        journalDirectory,
        batch.Poll,
        settings.MaxRetries);

    private static string ReadKey(string name, StepParameters definition)
    {
        if (definition.GetString("api_key_env") is not { } variable)
        {
            return "unused"; // local servers (vLLM, TGI) accept any key; the SDK insists on one.
        }

        return Environment.GetEnvironmentVariable(variable) is { Length: > 0 } key
            ? key
            : throw definition.Error("api_key_env", $"model '{name}': the environment variable {PipelineDefinitionException.Quote(variable)} is not set (it holds the endpoint's API key)");
    }

    private static IChatClient OpenRemote(RemoteSettings settings)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = settings.Endpoint,
            RetryPolicy = new ClientRetryPolicy(0), // RetryingChatClient owns retries, so they are not multiplied.
            NetworkTimeout = TimeSpan.FromSeconds(settings.TimeoutSeconds),
        };
        var rateLimit = new ServedRateLimit(settings.RequestsPerMinute, settings.TokensPerMinute);
        options.AddPolicy(new RateLimitHeaderPolicy(rateLimit), PipelinePosition.PerTry);
        IChatClient client = new OpenAI.Chat.ChatClient(settings.Model, new ApiKeyCredential(settings.Key), options).AsIChatClient();
        // The rate limit is innermost so each attempt counts when it is sent; a request it holds keeps its
        // concurrency slot, and the latency the concurrency limit sees then says, rightly, that more slots would not help.
        client = new RateLimitedChatClient(client, rateLimit);
        // Retries wrap the limit, so that every attempt reports its outcome to it and a back-off holds no slot.
        client = new ConcurrencyLimitedChatClient(client, settings.MaxConcurrency, settings.InitialConcurrency, settings.AdaptiveConcurrency);
        return new RetryingChatClient(client, settings.MaxRetries, TimeSpan.FromMilliseconds(500));
    }

    private static void RejectUnknownKeys(string name, StepParameters definition, HashSet<string> known, DefinitionProblems problems)
    {
        foreach (var property in definition.Element.EnumerateObject())
        {
            if (!known.Contains(property.Name))
            {
                problems.Add(definition.Error(property.Name, $"model '{name}': unknown key {PipelineDefinitionException.Quote(property.Name)}; accepted: {string.Join(", ", known.Order(StringComparer.Ordinal))}"));
            }
        }
    }
}

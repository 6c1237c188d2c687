using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using Distil.Engine.Building;
using Distil.Pipeline;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Distil.Steps;

/// <summary>
/// Opens the models of a definition. <c>type: local</c> is an ONNX model folder run by Distil.Engine (built first
/// from <c>build</c> when the folder does not exist yet); <c>type: openai</c> is any OpenAI-compatible endpoint
/// (OpenAI, vLLM, TGI, Hugging Face endpoints) through Microsoft.Extensions.AI.OpenAI, with retries and a
/// concurrency limit. Every mistake in a model entry is reported with the file, line and JSON path.
/// </summary>
public sealed class ModelCatalog : IModelProvider
{
    private static readonly HashSet<string> LocalKeys = ["type", "path", "build", "device", "threads", "chat_template", "max_batch_size", "deterministic", "prefix_cache_mb", "description"];
    private static readonly HashSet<string> OpenAIKeys = ["type", "endpoint", "model", "api_key_env", "max_concurrency", "max_retries", "timeout_s", "description"];

    public async ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, CancellationToken cancellationToken)
    {
        var type = definition.GetString("type") ?? throw definition.Error("type", $"model '{name}' needs a \"type\": \"local\" or \"openai\"");
        return type switch
        {
            "local" => await OpenLocalAsync(name, definition, cancellationToken).ConfigureAwait(false),
            "openai" => OpenRemote(name, definition),
            _ => throw definition.Error("type", $"model '{name}': unknown type '{type}'; choose local or openai"),
        };
    }

    /// <summary>
    /// Local: the content of every file in the model folder (weights, ONNX graph and external data, config,
    /// generation config, tokenizer, chat template; not READMEs or licences) plus the settings that change the
    /// arithmetic (chat template, device, batch size); not the folder's path, so a moved model is the same
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
        var identity = CanonicalJson.Digest(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "local");
            w.WriteBoolean("deterministic", deterministic);
            foreach (var property in settings.EnumerateObject().Where(p => p.Name is "chat_template" or "device" || (p.Name == "max_batch_size" && !deterministic)).OrderBy(p => p.Name, StringComparer.Ordinal))
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
        var decoding = deterministic
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
        RejectUnknownKeys(name, definition, LocalKeys);
        var path = definition.GetPath("path") ?? throw definition.Error("path", $"model '{name}' needs a \"path\" to its model folder");
        if (!ModelFolderBuilder.IsModelFolder(path))
        {
            if (definition.Get("build") is not { } build)
            {
                throw definition.Error("path", $"model '{name}': no model folder at {path} (config.json missing); point \"path\" at a model folder or add \"build\": {{\"preset\": \"tiny\", \"seed\": 1}}");
            }

            var (preset, seed) = ReadBuild(name, definition, build);
            await ModelFolderBuilder.EnsureBuiltAsync(path, preset, seed, cancellationToken).ConfigureAwait(false);
        }

        return LocalModels.Open(name, path, definition);
    }

    private static (string Preset, ulong Seed) ReadBuild(string name, StepParameters definition, JsonElement build)
    {
        if (build.ValueKind != JsonValueKind.Object)
        {
            throw definition.Error("build", $"model '{name}': \"build\" must be an object like {{\"preset\": \"tiny\", \"seed\": 1}}");
        }

        var preset = build.TryGetProperty("preset", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : null;
        if (preset is null || !ModelPreset.Names.Contains(preset))
        {
            throw definition.Error("build.preset", $"model '{name}': \"preset\" must be one of: {string.Join(", ", ModelPreset.Names)}");
        }

        ulong seed = 0;
        if (build.TryGetProperty("seed", out var s) && !(s.ValueKind == JsonValueKind.Number && s.TryGetUInt64(out seed)))
        {
            throw definition.Error("build.seed", $"model '{name}': \"seed\" must be a non-negative integer");
        }

        foreach (var property in build.EnumerateObject())
        {
            if (property.Name is not ("preset" or "seed"))
            {
                throw definition.Error($"build.{property.Name}", $"model '{name}': unknown build option '{property.Name}'; use preset and seed");
            }
        }

        return (preset, seed);
    }

    private static IChatClient OpenRemote(string name, StepParameters definition)
    {
        RejectUnknownKeys(name, definition, OpenAIKeys);
        var model = definition.GetString("model") ?? throw definition.Error("model", $"model '{name}' needs the served \"model\" name, e.g. meta-llama/Llama-3.1-8B-Instruct");
        var endpointText = definition.GetString("endpoint") ?? "https://api.openai.com/v1";
        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
        {
            throw definition.Error("endpoint", $"model '{name}': \"endpoint\" must be an http(s) URL such as http://127.0.0.1:8000/v1");
        }

        var keyVariable = definition.GetString("api_key_env");
        string key;
        if (keyVariable is null)
        {
            key = "unused"; // local servers (vLLM, TGI) accept any key; the SDK insists on one.
        }
        else
        {
            key = Environment.GetEnvironmentVariable(keyVariable)
                ?? throw definition.Error("api_key_env", $"model '{name}': the environment variable {keyVariable} is not set");
        }

        var maxConcurrency = definition.GetInt32("max_concurrency", 8);
        if (maxConcurrency < 1)
        {
            throw definition.Error("max_concurrency", $"model '{name}': \"max_concurrency\" must be at least 1");
        }

        var maxRetries = definition.GetInt32("max_retries", 4);
        if (maxRetries < 0)
        {
            throw definition.Error("max_retries", $"model '{name}': \"max_retries\" must not be negative");
        }

        var timeout = definition.GetDouble("timeout_s", 300);
        if (timeout <= 0)
        {
            throw definition.Error("timeout_s", $"model '{name}': \"timeout_s\" must be positive");
        }

        var options = new OpenAIClientOptions
        {
            Endpoint = endpoint,
            RetryPolicy = new ClientRetryPolicy(0), // RetryingChatClient owns retries, so they are not multiplied.
            NetworkTimeout = TimeSpan.FromSeconds(timeout),
        };
        IChatClient client = new OpenAI.Chat.ChatClient(model, new ApiKeyCredential(key), options).AsIChatClient();
        client = new RetryingChatClient(client, maxRetries, TimeSpan.FromMilliseconds(500));
        return new ConcurrencyLimitedChatClient(client, maxConcurrency);
    }

    private static void RejectUnknownKeys(string name, StepParameters definition, HashSet<string> known)
    {
        foreach (var property in definition.Element.EnumerateObject())
        {
            if (!known.Contains(property.Name))
            {
                throw definition.Error(property.Name, $"model '{name}': unknown key '{property.Name}'; accepted: {string.Join(", ", known.Order(StringComparer.Ordinal))}");
            }
        }
    }
}

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
    private static readonly HashSet<string> LocalKeys = ["type", "path", "build", "device", "threads", "chat_template", "chat_template_kwargs", "max_batch_size", "prefix_cache_mb", "description"];
    private static readonly HashSet<string> OpenAIKeys = ["type", "endpoint", "model", "api_key_env", "max_concurrency", "initial_concurrency", "adaptive_concurrency", "max_retries", "timeout_s", "description"];

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

        var initialConcurrency = definition.GetInt32("initial_concurrency", Math.Min(maxConcurrency, 4));
        if (initialConcurrency < 1 || initialConcurrency > maxConcurrency)
        {
            throw definition.Error("initial_concurrency", $"model '{name}': \"initial_concurrency\" must be between 1 and max_concurrency ({maxConcurrency})");
        }

        var adaptive = definition.GetBoolean("adaptive_concurrency", true);
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
        // Retries wrap the limit, so that every attempt reports its outcome to it and a back-off holds no slot.
        client = new ConcurrencyLimitedChatClient(client, maxConcurrency, initialConcurrency, adaptive);
        return new RetryingChatClient(client, maxRetries, TimeSpan.FromMilliseconds(500));
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

using Distil.Engine;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// A model that is a live <see cref="IChatClient"/> in the calling program (Distil as a library): any client, with
/// whatever decorators the program built around it (<c>ChatClientBuilder.Use…</c>). Its <c>models</c> entry is a
/// placeholder, <c>{"type": "in_process", "client": "&lt;id&gt;", "version": "&lt;version&gt;"}</c>: it names the
/// client, and the id and version are the model's whole identity in the cache key, because nothing else about a
/// live object can be read. Two different clients given the same id and version share cached batches; give a new
/// version whenever what the client answers changes.
/// </summary>
/// <param name="Client">The client; the program owns it (a run never disposes it).</param>
/// <param name="Id">Names the client in the definition and the cache key, e.g. <c>acme-gpt-proxy</c>.</param>
/// <param name="Version">Changes the cache key when the client's behaviour changes (null: none).</param>
public sealed record InProcessModel(IChatClient Client, string Id, string? Version = null)
{
    /// <summary>The <c>type</c> of the placeholder entry.</summary>
    public const string TypeName = "in_process";

    private static readonly HashSet<string> Keys = ["type", "client", "version", "price", "description"];

    /// <summary>The placeholder's shape; its client is only checked when the run opens it.</summary>
    public static void Validate(string name, StepParameters definition, DefinitionProblems problems)
    {
        foreach (var key in definition.Element.EnumerateObject().Select(p => p.Name).Where(k => !Keys.Contains(k)))
        {
            problems.Add(definition.Error(key, $"model '{name}': unknown key {PipelineDefinitionException.Quote(key)} for an in-process client; accepted: {string.Join(", ", Keys)}"));
        }

        problems.Check(() =>
        {
            if (string.IsNullOrWhiteSpace(definition.GetString("client")))
            {
                throw definition.Error("client", $"model '{name}': an in-process model needs \"client\", the id its program registered it under");
            }
        });
        problems.Check(() => definition.GetString("version"));
        problems.Check(() => definition.GetString("description"));
        ModelPrice.Read(name, definition, problems);
    }

    /// <summary>Checks in-process placeholders here and every other entry with <paramref name="others"/>.</summary>
    public static Action<string, StepParameters, DefinitionProblems> ValidatorOver(Action<string, StepParameters, DefinitionProblems> others) =>
        (name, definition, problems) =>
        {
            if (definition.Element.ValueKind == System.Text.Json.JsonValueKind.Object && definition.GetString("type") == TypeName)
            {
                Validate(name, definition, problems);
            }
            else
            {
                others(name, definition, problems);
            }
        };
}

/// <summary>
/// Opens a definition's in-process models from the clients the program registered, and every other model with the
/// inner provider (the <see cref="ModelCatalog"/>).
/// </summary>
public sealed class InProcessModels(IReadOnlyDictionary<string, InProcessModel> clients, IModelProvider others) : IModelProvider
{
    public ValueTask<IChatClient> OpenAsync(string name, StepParameters definition, CancellationToken cancellationToken)
    {
        if (definition.GetString("type") != InProcessModel.TypeName)
        {
            return others.OpenAsync(name, definition, cancellationToken);
        }

        var model = Registered(name, definition);
        return ValueTask.FromResult<IChatClient>(new MeteredChatClient(new ProgramOwnedChatClient(model.Client), name));
    }

    public void CheckBeforeOpening(PipelineDefinition definition) => others.CheckBeforeOpening(definition);

    public ValueTask<ModelIdentity> IdentifyAsync(string name, StepParameters definition, CancellationToken cancellationToken)
    {
        if (definition.GetString("type") != InProcessModel.TypeName)
        {
            return others.IdentifyAsync(name, definition, cancellationToken);
        }

        var model = Registered(name, definition);
        var digest = CanonicalJson.Digest(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", InProcessModel.TypeName);
            w.WriteString("client", model.Id);
            w.WriteString("version", model.Version);
            w.WriteEndObject();
        });
        var version = model.Version is null ? "no version" : $"version {model.Version}";
        return ValueTask.FromResult(new ModelIdentity(name, digest, $"in-process client '{model.Id}', {version} (identity given by the program)"));
    }

    /// <summary>The client registered under the entry's name, which must be the one the entry names.</summary>
    private InProcessModel Registered(string name, StepParameters definition)
    {
        var id = definition.GetString("client");
        if (!clients.TryGetValue(name, out var model))
        {
            throw definition.Error("type", $"model '{name}' is an in-process client ('{id}') and this program registered none under that name; register it with DistilPipeline.Model(\"{name}\", client, \"{id}\")");
        }

        if (model.Id != id || model.Version != definition.GetString("version"))
        {
            throw definition.Error("client", $"model '{name}' names client '{id}' version '{definition.GetString("version")}' but the program registered '{model.Id}' version '{model.Version}'");
        }

        return model;
    }

    /// <summary>
    /// The program's client as the run sees it: never disposed by the run, and batched only when the client itself
    /// is a batch client. A decorator's <c>GetService</c> forwards to the client it wraps, so taking the batch path from
    /// there would skip the program's decorators (its logging, caching, counting); calls go through them one by one.
    /// </summary>
    private sealed class ProgramOwnedChatClient(IChatClient inner) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.GetResponseAsync(messages, options, cancellationToken);

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.GetStreamingResponseAsync(messages, options, cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(IBatchChatClient) ? (serviceKey is null ? inner as IBatchChatClient : null)
            : serviceKey is null && serviceType.IsInstanceOfType(this) ? this : inner.GetService(serviceType, serviceKey);

        public void Dispose()
        {
            // The program opened the client and disposes it.
        }
    }
}

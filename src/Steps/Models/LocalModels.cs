using System.Text.Json;
using Distil.Engine;
using Distil.Engine.Model;
using Distil.Engine.Onnx;
using Distil.Engine.Text;
using Distil.Engine.Text.Jinja;
using Distil.Engine.Text.Tokenizers;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>Opens a local model folder with Distil.Engine, applying the entry's device, threads, chat template and batching.</summary>
internal static class LocalModels
{
    /// <summary>Largest <c>prefix_cache_mb</c> (1 TiB): past it the shift to bytes would overflow long before memory runs out.</summary>
    private const long MaxPrefixCacheMb = 1L << 20;

    /// <summary><c>"deterministic": true</c>: outputs independent of batching — batched when the graph decodes
    /// batch-invariantly (<see cref="LocalModel.DecodesIndependentlyOfBatching"/>), else one request at a time.</summary>
    public static bool IsDeterministic(StepParameters definition) => definition.GetBoolean("deterministic", false);

    /// <summary>Whether the folder's graph decodes batch-invariantly with the entry's device and variant (false
    /// when the folder cannot be read; loading it reports why).</summary>
    public static bool IsBatchInvariant(string path, StepParameters definition)
    {
        try
        {
            return LocalModel.DecodesIndependentlyOfBatching(path, definition.GetString("device"), definition.GetString("variant"));
        }
        catch (Exception e) when (e is ModelFormatException or IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The entry's engine options; each bad field is recorded in <paramref name="problems"/> (the field then keeps its default).</summary>
    public static LocalModelOptions ReadOptions(string name, StepParameters definition, DefinitionProblems problems)
    {
        var threads = problems.Check(() => definition.GetInt32("threads", 0, 0, DefinitionLimits.MaxThreads), 0);
        var defaults = LocalModelOptions.Default;
        var maxBatch = problems.Check(() => definition.GetInt32("max_batch_size", defaults.MaxBatchSize, 1, 4096), defaults.MaxBatchSize);
        var prefixCacheMb = problems.Check(() => definition.GetInt64("prefix_cache_mb", defaults.PrefixCacheBytes >> 20, 0, MaxPrefixCacheMb), defaults.PrefixCacheBytes >> 20);
        var device = problems.Check<string?>(() => ReadDevice(name, definition), null);
        var template = problems.Check<string?>(() => ReadChatTemplate(name, definition), null);
        var kwargs = problems.Check<IReadOnlyDictionary<string, JsonElement>?>(() => ReadTemplateKwargs(name, definition), null);
        problems.Check(() => IsDeterministic(definition), false);

        return new LocalModelOptions
        {
            Device = device,
            Threads = threads,
            ChatTemplate = template,
            ChatTemplateKwargs = kwargs,
            MaxBatchSize = maxBatch,
            PrefixCacheBytes = prefixCacheMb << 20,
            Variant = definition.GetString("variant"),
        };
    }

    public static IChatClient Open(string name, string path, StepParameters definition)
    {
        var problems = new DefinitionProblems();
        var options = ReadOptions(name, definition, problems);
        problems.ThrowIfAny();

        // A graph that masks per column pads a batch's rows to a common width, so a request's floating-point
        // arithmetic (and, with sampling, its tokens) can depend on its companions; one at a time it cannot.
        if (IsDeterministic(definition) && !IsBatchInvariant(path, definition))
        {
            options = options with { MaxBatchSize = 1 };
        }

        try
        {
            return LocalModel.Load(path, options);
        }
        catch (NotSupportedException e)
        {
            throw definition.Error("device", $"model '{name}': {e.Message}");
        }
        catch (ArgumentException e) when (e.ParamName == "variant")
        {
            throw definition.Error("variant", $"model '{name}': {e.Message}");
        }
        catch (ArgumentException e) when (definition.Has("chat_template"))
        {
            throw definition.Error("chat_template", $"model '{name}': {e.Message}");
        }
        catch (JinjaTemplateException e)
        {
            throw definition.Error(definition.Has("chat_template") ? "chat_template" : "path", $"model '{name}': chat template error: {e.Message}");
        }
        catch (Exception e) when (e is ModelFormatException or TokenizerFormatException or IOException or ArgumentException)
        {
            throw definition.Error("path", $"model '{name}': cannot load {path}: {e.Message}");
        }
    }

    private static string? ReadDevice(string name, StepParameters definition)
    {
        var device = definition.GetString("device");
        try
        {
            ExecutionDevice.Parse(device);
            return device;
        }
        catch (ArgumentException)
        {
            throw definition.Error("device", $"model '{name}': device {PipelineDefinitionException.Quote(device)} is not understood; use \"cpu\", \"cuda\" or \"cuda:N\"");
        }
    }

    /// <summary>A built-in template's name, or a Jinja template file (relative to the definition) as its full path.</summary>
    private static string? ReadChatTemplate(string name, StepParameters definition)
    {
        var template = definition.GetString("chat_template");
        if (template is null || ChatTemplates.Names.Contains(template))
        {
            return template;
        }

        if (definition.GetPath("chat_template") is { } file && File.Exists(file))
        {
            return file;
        }

        throw definition.Error("chat_template", $"model '{name}': chat template {PipelineDefinitionException.Quote(template)} is neither a built-in ({string.Join(", ", ChatTemplates.Names)}) nor an existing template file (leave it out to use the model folder's own)");
    }

    private static IReadOnlyDictionary<string, JsonElement>? ReadTemplateKwargs(string name, StepParameters definition) => definition.Get("chat_template_kwargs") switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } kwargs => kwargs.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()),
        _ => throw definition.Error("chat_template_kwargs", $"model '{name}': \"chat_template_kwargs\" must be an object of template variables, e.g. {{\"enable_thinking\": false}}"),
    };
}

using System.Text.Json;
using Distil.Engine;
using Distil.Engine.Text;
using Distil.Engine.Text.Jinja;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>Opens a local model folder with Distil.Engine, applying the entry's device, threads, chat template and batching.</summary>
internal static class LocalModels
{
    public static IChatClient Open(string name, string path, StepParameters definition)
    {
        var threads = definition.GetInt32("threads", 0);
        if (threads < 0)
        {
            throw definition.Error("threads", $"model '{name}': \"threads\" must not be negative (0 lets ONNX Runtime choose)");
        }

        var maxBatch = definition.GetInt32("max_batch_size", 16);
        if (maxBatch < 1)
        {
            throw definition.Error("max_batch_size", $"model '{name}': \"max_batch_size\" must be at least 1");
        }

        var prefixCacheMb = definition.GetInt64("prefix_cache_mb", 256);
        if (prefixCacheMb < 0)
        {
            throw definition.Error("prefix_cache_mb", $"model '{name}': \"prefix_cache_mb\" must not be negative (0 turns prefix reuse off)");
        }

        var kwargs = definition.Get("chat_template_kwargs");
        if (kwargs is { ValueKind: not JsonValueKind.Object })
        {
            throw definition.Error("chat_template_kwargs", $"model '{name}': \"chat_template_kwargs\" must be an object of template variables, e.g. {{\"enable_thinking\": false}}");
        }

        var options = new LocalModelOptions
        {
            Device = definition.GetString("device"),
            Threads = threads,
            ChatTemplate = definition.GetPath("chat_template") is { } file && File.Exists(file) ? file : definition.GetString("chat_template"),
            ChatTemplateKwargs = kwargs?.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()),
            MaxBatchSize = maxBatch,
            PrefixCacheBytes = prefixCacheMb << 20,
        };
        try
        {
            return LocalModel.Load(path, options);
        }
        catch (NotSupportedException e)
        {
            throw definition.Error("device", $"model '{name}': {e.Message}");
        }
        catch (ArgumentException e) when (definition.Has("chat_template"))
        {
            throw definition.Error("chat_template", $"model '{name}': {e.Message}");
        }
        catch (JinjaTemplateException e)
        {
            throw definition.Error(definition.Has("chat_template") ? "chat_template" : "path", $"model '{name}': chat template error: {e.Message}");
        }
        catch (Exception e) when (e is ModelFormatException or TokenizerFormatException or IOException)
        {
            throw definition.Error("path", $"model '{name}': cannot load {path}: {e.Message}");
        }
    }
}

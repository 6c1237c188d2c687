using System.Globalization;
using Distil.Engine;
using Distil.Engine.Model;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// Adds up, per device, what the definition's local models need — weights plus a full batch of KV caches
/// (<c>max_batch_size</c> sequences of <c>context</c> tokens, default the model's context) — and refuses the run
/// before anything is loaded when a device's <c>memory_budget</c> is exceeded, giving every model's share.
/// Sizes come from the folders' files (<see cref="ModelInfo"/>); a folder not built yet is left out of the sum.
/// </summary>
internal static class MemoryPlan
{
    public static void Check(PipelineDefinition definition)
    {
        foreach (var (device, settings) in definition.Devices)
        {
            if (Budget(device, settings) is not { } budget)
            {
                continue;
            }

            var shares = new List<string>();
            long total = 0;
            foreach (var (name, entry) in definition.Models)
            {
                if (entry.GetString("type") != "local" || Normalize(entry.GetString("device") ?? "cpu") != Normalize(device)
                    || entry.GetPath("path") is not { } path || !ModelFolderBuilder.IsModelFolder(path))
                {
                    continue;
                }

                ModelInfo info;
                try
                {
                    info = ModelInfo.Read(path, entry.GetString("variant"));
                }
                catch (Exception e) when (e is ModelFormatException or ArgumentException or IOException)
                {
                    throw entry.Error("path", $"model '{name}': cannot read {path}: {e.Message}");
                }

                var batch = entry.GetInt32("max_batch_size", LocalModelOptions.Default.MaxBatchSize);
                var context = entry.GetInt32("context", info.ContextLength);
                if (context < 1)
                {
                    throw entry.Error("context", $"model '{name}': \"context\" must be at least 1 token");
                }

                var bytes = info.BytesFor(batch, context);
                total += bytes;
                shares.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {bytes:N0} (weights {info.WeightBytes:N0} + {batch} x {context} tokens x {info.KvBytesPerToken:N0} KV bytes)"));
            }

            if (total > budget)
            {
                throw settings.Error("memory_budget", string.Create(CultureInfo.InvariantCulture,
                    $"device '{device}': the models on it need {total:N0} bytes but memory_budget is {budget:N0}: {string.Join("; ", shares)}. Lower max_batch_size or context, use a smaller variant, or move a model to another device"));
            }
        }
    }

    private static long? Budget(string device, StepParameters settings)
    {
        if (settings.Get("memory_budget") is not { } value)
        {
            return null;
        }

        try
        {
            return ModelInfo.ParseBytes(value.ValueKind == System.Text.Json.JsonValueKind.Number ? value.GetRawText() : value.GetString() ?? "");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw settings.Error("memory_budget", $"device '{device}': {e.Message}");
        }
    }

    private static string Normalize(string device) => device == "cuda" ? "cuda:0" : device;
}

using Distil.Engine.Generation;

namespace Distil.Engine;

/// <summary>How a local model folder is opened.</summary>
public sealed record LocalModelOptions
{
    /// <summary>Every option at its default, for readers of model entries that fill in what an entry leaves out.</summary>
    public static LocalModelOptions Default { get; } = new();

    /// <summary>"cpu" (default), "cuda" or "cuda:N" (needs the GPU build, <c>-p:DistilGpu=true</c>).</summary>
    public string? Device { get; init; }

    /// <summary>Intra-op threads of this model's ONNX Runtime session; 0 lets ONNX Runtime choose. Give two models
    /// loaded side by side a share of the cores each.</summary>
    public int Threads { get; init; }

    /// <summary>Which ONNX file of the folder to run: fp32 (default, <c>onnx/model.onnx</c>), fp16, q4, q4f16, int8,
    /// uint8, quantized or bnb4 (transformers.js / onnx-community names, <c>onnx/model_{variant}.onnx</c>).</summary>
    public string? Variant { get; init; }

    /// <summary>A built-in chat template (llama3, chatml, falcon) or a Jinja template file; null uses the model's own template.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Extra variables for the model's Jinja chat template, e.g. <c>{"enable_thinking": false}</c>.</summary>
    public IReadOnlyDictionary<string, System.Text.Json.JsonElement>? ChatTemplateKwargs { get; init; }

    /// <summary>Sequences decoded together by the continuous-batching scheduler.</summary>
    public int MaxBatchSize { get; init; } = SchedulerOptions.DefaultMaxBatchSize;

    /// <summary>False waits for a whole batch to finish before admitting more (static batching).</summary>
    public bool ContinuousBatching { get; init; } = true;

    /// <summary>Memory for KV caches of prompt prefixes shared between requests; 0 turns reuse off.</summary>
    public long PrefixCacheBytes { get; init; } = SchedulerOptions.DefaultPrefixCacheBytes;

    /// <summary>Room, in columns, a GroupQueryAttention model's batch cache is laid out with so that decode steps write
    /// it in place; 0 copies the cache into a longer one every step (see <see cref="SchedulerOptions.KvCapacityChunk"/>).</summary>
    public int KvCapacityChunk { get; init; } = SchedulerOptions.DefaultKvCapacityChunk;

    /// <summary>Model id reported in responses and metadata; defaults to the folder's name.</summary>
    public string? ModelId { get; init; }
}

namespace Distil.Engine;

/// <summary>How a local model folder is opened.</summary>
public sealed record LocalModelOptions
{
    /// <summary>"cpu" (default), "cuda" or "cuda:N" (needs the GPU build, <c>-p:DistilGpu=true</c>).</summary>
    public string? Device { get; init; }

    /// <summary>Intra-op threads of this model's ONNX Runtime session; 0 lets ONNX Runtime choose. Give two models
    /// loaded side by side a share of the cores each.</summary>
    public int Threads { get; init; }

    /// <summary>A built-in chat template (llama3, chatml, falcon) or a Jinja template file; null uses the model's own template.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Extra variables for the model's Jinja chat template, e.g. <c>{"enable_thinking": false}</c>.</summary>
    public IReadOnlyDictionary<string, System.Text.Json.JsonElement>? ChatTemplateKwargs { get; init; }

    /// <summary>Sequences decoded together by the continuous-batching scheduler.</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>False waits for a whole batch to finish before admitting more (static batching).</summary>
    public bool ContinuousBatching { get; init; } = true;

    /// <summary>Memory for KV caches of prompt prefixes shared between requests; 0 turns reuse off.</summary>
    public long PrefixCacheBytes { get; init; } = 256L << 20;

    /// <summary>Model id reported in responses and metadata; defaults to the folder's name.</summary>
    public string? ModelId { get; init; }
}

namespace Distil.Engine.Generation;

/// <summary>How a model's scheduler batches work.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Sequences decoded together (the batch's slots).</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>Refill a finished sequence's slot at once (continuous batching); false waits for the whole
    /// batch to finish first (static batching, kept as the benchmark's baseline).</summary>
    public bool Continuous { get; init; } = true;

    /// <summary>Upper bound on the logits tensor of one prefill chunk ([1, chunk, vocab] fp32); with a 128k
    /// vocabulary the default gives 128-token chunks.</summary>
    public long PrefillLogitsBudgetBytes { get; init; } = 64L << 20;

    /// <summary>Memory for cached prefixes shared between requests; 0 turns prefix reuse off.</summary>
    public long PrefixCacheBytes { get; init; } = 256L << 20;
}

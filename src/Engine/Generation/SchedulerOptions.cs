namespace Distil.Engine.Generation;

/// <summary>How a model's scheduler batches work.</summary>
public sealed record SchedulerOptions
{
    /// <summary>The engine's default slots: every layer above (model options, pipeline model entries, memory plans) takes it from here.</summary>
    public const int DefaultMaxBatchSize = 16;

    /// <summary>The engine's default prefix-cache memory (256 MiB), likewise the one statement of it.</summary>
    public const long DefaultPrefixCacheBytes = 256L << 20;

    /// <summary>The engine's default room a GroupQueryAttention batch cache is laid out with, in columns.</summary>
    public const int DefaultKvCapacityChunk = 256;

    /// <summary>Sequences decoded together (the batch's slots).</summary>
    public int MaxBatchSize { get; init; } = DefaultMaxBatchSize;

    /// <summary>Refill a finished sequence's slot at once (continuous batching); false waits for the whole
    /// batch to finish first (static batching, kept as the benchmark's baseline).</summary>
    public bool Continuous { get; init; } = true;

    /// <summary>Upper bound on the logits tensor of one prefill chunk ([1, chunk, vocab] fp32); with a 128k
    /// vocabulary the default gives 128-token chunks.</summary>
    public long PrefillLogitsBudgetBytes { get; init; } = 64L << 20;

    /// <summary>Upper bound on the tokens (rows × columns) of one prefill pass of a graph that computes only each
    /// row's last logits (<c>logits_positions</c>): a pass then holds activations, not logits — a few [tokens, hidden]
    /// and [tokens, intermediate] tensors, about 150 MB at 1,024 tokens for an 8B Llama (hidden 4,096, intermediate
    /// 14,336) — and the matrix kernels run at full speed long before that, so a larger pass gains little while every
    /// request in it waits for the whole pass. 1,024 takes 32 prompts of 32 tokens in one pass.</summary>
    public int PrefillTokenBudget { get; init; } = 1024;

    /// <summary>Memory for cached prefixes shared between requests; 0 turns prefix reuse off.</summary>
    public long PrefixCacheBytes { get; init; } = DefaultPrefixCacheBytes;

    /// <summary>For graphs whose attention takes each row's length from the mask (GroupQueryAttention): the batch
    /// cache is laid out with room up to the next multiple of this many columns (at most the model's context), and
    /// each decode step writes its token into that room in place; only running out of room, a row joining or a row
    /// leaving copies the cache. 0 lets every step copy the cache into a one-column-longer one (the growing cache,
    /// kept as the benchmark's baseline). Other graphs always grow.</summary>
    public int KvCapacityChunk { get; init; } = DefaultKvCapacityChunk;
}

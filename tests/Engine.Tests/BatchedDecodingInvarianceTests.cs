using Distil.Engine.Building;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;
using Microsoft.Extensions.AI;
using Xunit.Abstractions;

namespace Distil.Engine.Tests;

/// <summary>
/// A request's tokens do not depend on the requests batched with it: built graphs attend through
/// GroupQueryAttention over each row's own length, and the scheduler keeps their caches left-aligned, so every
/// reduction a row goes through has the same operands in the same order whatever its companions.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class BatchedDecodingInvarianceTests(TinyModels models, ITestOutputHelper output)
{
    /// <summary>Lengths from 1 word to a paragraph, so batches mix short and long rows.</summary>
    private static readonly string[] Prompts =
    [
        .. Chat.Prompts,
        "Hi", "Describe, in as much detail as you can manage, how a steam locomotive converts coal into motion, from the firebox to the wheels.",
        "Why?", "Write a limerick about a cat who learns to code.", "What are the three states of matter?",
        "Compose a short letter to a friend you have not seen in ten years, mentioning the town where you grew up.",
        "Define entropy.", "Give two arguments for and two against daylight saving time.", "Count backwards from 20 to 1.",
        "Explain the difference between a list and a tuple in Python, with an example of each and when to prefer one.",
        "Suggest a name for a bakery.", "Tell me a fact about octopuses.", "How do vaccines work?", "Rhyme with orange.",
    ];

    [Fact]
    public async Task Sampled_tokens_are_identical_at_batch_1_8_32_and_with_continuous_batching_off()
    {
        var reference = await Generate(models.A, maxBatch: 1, continuous: true);
        foreach (var (maxBatch, continuous) in new[] { (8, true), (32, true), (8, false) })
        {
            var batched = await Generate(models.A, maxBatch, continuous);
            var differing = Enumerable.Range(0, Prompts.Length).Where(i => !reference[i].SequenceEqual(batched[i])).ToList();
            output.WriteLine($"max_batch_size {maxBatch}, continuous {continuous}: {differing.Count} of {Prompts.Length} generations differ from batch 1");
            Assert.True(differing.Count == 0, $"max_batch_size {maxBatch} (continuous {continuous}) changed the tokens of prompts {string.Join(", ", differing)}");
        }
    }

    [Fact]
    public async Task Sampled_tokens_are_identical_with_the_cache_written_in_place_and_copied_every_step()
    {
        // Room for 4 columns at a time runs out every few steps, so both in-place steps and growth copies happen;
        // 0 copies the cache into a longer one every step (the other tests run the default room of 256).
        var (chunked, chunkedStatistics) = await GenerateWithStatistics(models.A, 8, continuous: true, kvCapacityChunk: 4);
        var (growing, growingStatistics) = await GenerateWithStatistics(models.A, 8, continuous: true, kvCapacityChunk: 0);
        output.WriteLine($"room of 4: {chunkedStatistics.InPlaceSteps} of {chunkedStatistics.DecodeSteps} steps in place, {chunkedStatistics.CacheGrowths} growths; growing: {growingStatistics.InPlaceSteps} of {growingStatistics.DecodeSteps} in place");
        Assert.Equal(0, growingStatistics.InPlaceSteps);
        Assert.True(chunkedStatistics.InPlaceSteps > chunkedStatistics.DecodeSteps / 2, $"{chunkedStatistics.InPlaceSteps} of {chunkedStatistics.DecodeSteps} steps were written in place");
        Assert.True(chunkedStatistics.CacheGrowths > chunkedStatistics.DecodeSteps / 8, $"room of 4 columns grew the cache {chunkedStatistics.CacheGrowths} times in {chunkedStatistics.DecodeSteps} steps");
        var differing = Enumerable.Range(0, Prompts.Length).Where(i => !growing[i].SequenceEqual(chunked[i])).ToList();
        Assert.True(differing.Count == 0, $"writing the cache in place changed the tokens of prompts {string.Join(", ", differing)}");
    }

    [Fact]
    public void A_rows_logits_are_bitwise_equal_alone_and_among_right_padded_companions_in_prefill_and_decode()
    {
        using var model = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 2);
        Assert.True(model.Layout.LengthsFromMask, "the preset should be built with GroupQueryAttention");
        long[][] prompts = [[5, 17, 912, 4, 33], [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 81], [2000, 3], [64, 900, 12, 13, 14, 15, 16, 17, 18]];
        var vocab = model.VocabSize;
        var k = prompts.Length;
        var (ids, positions, mask, width) = RightPadded.Of(prompts);

        var together = new float[k * vocab];
        using var empty = model.EmptyCache(k);
        using var batch = model.Forward(ids, mask, positions, k, width, empty, together, prompts.Select(p => p.Length - 1).ToArray());

        // One decode step for all rows at once: each row's next token goes to its own column.
        var next = new long[] { 11, 22, 33, 44 };
        var stepMask = new long[k * (width + 1)];
        for (var r = 0; r < k; r++)
        {
            stepMask.AsSpan(r * (width + 1), prompts[r].Length + 1).Fill(1);
        }

        var stepTogether = new float[k * vocab];
        using var stepped = model.Forward(next, stepMask, prompts.Select(p => (long)p.Length).ToArray(), k, 1, batch, stepTogether);
        for (var r = 0; r < k; r++)
        {
            var prompt = prompts[r];
            var alone = new float[vocab];
            using var emptyOne = model.EmptyCache(1);
            using var cache = model.Forward(prompt, Ones(prompt.Length), Enumerable.Range(0, prompt.Length).Select(i => (long)i).ToArray(), 1, prompt.Length, emptyOne, alone);
            var stepAlone = new float[vocab];
            using var _ = model.Forward([next[r]], Ones(prompt.Length + 1), [prompt.Length], 1, 1, cache, stepAlone);
            Assert.True(alone.AsSpan().SequenceEqual(together.AsSpan(r * vocab, vocab)), $"prefill logits of row {r} differ: max |Δ| {MaxDifference(alone, together.AsSpan(r * vocab, vocab))}");
            Assert.True(stepAlone.AsSpan().SequenceEqual(stepTogether.AsSpan(r * vocab, vocab)), $"decode logits of row {r} differ: max |Δ| {MaxDifference(stepAlone, stepTogether.AsSpan(r * vocab, vocab))}");
        }
    }

    [Fact]
    public void Standard_attention_is_built_on_request()
    {
        using var temp = new TempFolder();
        ModelBuilder.BuildPreset("tiny", 1, temp.Sub("standard"), attention: AttentionKernel.Standard);
        using var standard = OnnxCausalLM.Load(temp.Sub("standard"), ExecutionDevice.Cpu, threads: 1);
        Assert.False(standard.Layout.LengthsFromMask);
        Assert.False(standard.Summary.Uses("GroupQueryAttention"));
    }

    private static async Task<List<IReadOnlyList<int>>> Generate(string folder, int maxBatch, bool continuous) =>
        (await GenerateWithStatistics(folder, maxBatch, continuous, Generation.SchedulerOptions.DefaultKvCapacityChunk)).Tokens;

    private static async Task<(List<IReadOnlyList<int>> Tokens, Generation.SchedulerStatistics Statistics)> GenerateWithStatistics(string folder, int maxBatch, bool continuous, int kvCapacityChunk)
    {
        await using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = 2, MaxBatchSize = maxBatch, ContinuousBatching = continuous, KvCapacityChunk = kvCapacityChunk });
        var requests = Prompts.Select((p, i) => new BatchChatRequest(Chat.User(p), new ChatOptions { Temperature = 0.7f, TopP = 0.95f, MaxOutputTokens = 40, Seed = 100 + i })).ToList();
        var results = await client.GetResponsesAsync(requests);
        return (results.Select(r => Chat.Tokens(r.Response!)).ToList(), client.Statistics);
    }

    private static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();

    private static float MaxDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var max = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}

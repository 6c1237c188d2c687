using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;

namespace Distil.Engine.Tests;

/// <summary>
/// GroupQueryAttention graphs decode into a cache laid out with room: past and present are bound to the same
/// tensors, ONNX Runtime sees one buffer and writes only the new column, and the result is bitwise what the
/// cache that is copied into a longer one every step gives.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class InPlaceKvCacheTests(TinyModels models)
{
    private const int Steps = 6;

    [Fact]
    public void Steps_into_a_cache_with_room_reuse_its_tensors_and_match_the_growing_cache_bitwise()
    {
        using var model = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 2);
        Assert.True(model.Layout.LengthsFromMask, "the preset should be built with GroupQueryAttention");
        long[][] prompts = [[5, 17, 912, 4, 33], [7, 7, 7, 7, 7, 7, 7, 7, 81], [2000, 3]];
        var k = prompts.Length;
        var vocab = model.VocabSize;
        var (ids, positions, mask, width) = RightPadded.Of(prompts);

        using var empty = model.EmptyCache(k);
        using var prefilled = model.Forward(ids, mask, positions, k, width, empty, new float[k * vocab], prompts.Select(p => p.Length - 1).ToArray());
        Assert.False(prefilled.HasRoom);
        var rows = Enumerable.Range(0, k).Select(r => (long)r).ToArray();
        var roomy = model.Merger.Merge(KvMerger.Part.Whole(prefilled, rows), new KvMerger.Part(prefilled, [], 0, 0), leftAligned: true, capacity: width + Steps);
        Assert.Equal((width, width + Steps), (roomy.Length, roomy.Capacity));

        var growing = model.Merger.Merge(KvMerger.Part.Whole(prefilled, rows), new KvMerger.Part(prefilled, [], 0, 0), leftAligned: true);
        Assert.False(growing.HasRoom);
        var tensors = roomy.Tensors;
        var lengths = prompts.Select(p => p.Length).ToArray();
        try
        {
            for (var step = 0; step < Steps; step++)
            {
                var total = roomy.Length + 1;
                var stepIds = Enumerable.Range(0, k).Select(r => (long)(100 + (step * 7) + r)).ToArray();
                var stepPositions = lengths.Select(l => (long)l).ToArray();
                var stepMask = new long[k * total];
                for (var r = 0; r < k; r++)
                {
                    stepMask.AsSpan(r * total, lengths[r] + 1).Fill(1);
                }

                var inPlaceLogits = new float[k * vocab];
                var grownLogits = new float[k * vocab];
                var nextRoomy = model.Forward(stepIds, stepMask, stepPositions, k, 1, roomy, inPlaceLogits);
                roomy.Dispose();
                roomy = nextRoomy;
                var nextGrowing = model.Forward(stepIds, stepMask, stepPositions, k, 1, growing, grownLogits);
                growing.Dispose();
                growing = nextGrowing;
                for (var r = 0; r < k; r++)
                {
                    lengths[r]++;
                }

                Assert.Same(tensors, roomy.Tensors);
                Assert.Equal(total, roomy.Length);
                Assert.NotSame(tensors[0], growing.Tensors[0]);
                Assert.True(inPlaceLogits.AsSpan().SequenceEqual(grownLogits), $"step {step}: logits written in place differ from the growing cache's");
            }

            // Every row's keys and values, column by column, are the growing cache's.
            var (heads, dim) = (model.Layout.KvHeads, model.Layout.HeadDim);
            for (var t = 0; t < tensors.Length; t++)
            {
                var inPlace = roomy.Tensors[t].GetTensorDataAsSpan<float>();
                var grown = growing.Tensors[t].GetTensorDataAsSpan<float>();
                for (var r = 0; r < k; r++)
                {
                    for (var h = 0; h < heads; h++)
                    {
                        var used = lengths[r] * dim;
                        var a = inPlace.Slice(((r * heads) + h) * roomy.Capacity * dim, used);
                        var b = grown.Slice(((r * heads) + h) * growing.Capacity * dim, used);
                        Assert.True(a.SequenceEqual(b), $"cache tensor {t}, row {r}, head {h} differs");
                    }
                }
            }

            Assert.False(roomy.HasRoom);
        }
        finally
        {
            roomy.Dispose();
            growing.Dispose();
        }
    }

    [Fact]
    public void Placing_rows_writes_them_into_the_batch_tensors_and_leaves_the_other_rows_as_they_were()
    {
        using var model = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 2);
        var vocab = model.VocabSize;
        KvState Prefill(long[][] prompts, KvState empty)
        {
            var (ids, positions, mask, width) = RightPadded.Of(prompts);
            return model.Forward(ids, mask, positions, prompts.Length, width, empty, new float[prompts.Length * vocab], prompts.Select(p => p.Length - 1).ToArray());
        }

        using var emptyBatch = model.EmptyCache(3);
        using var prefilled = Prefill([[5, 17, 912, 4, 33], [7, 7, 7, 81], [2000, 3]], emptyBatch);
        const int capacity = 12;
        using var batch = model.Merger.Merge(KvMerger.Part.Whole(prefilled, [0, 1, 2]), new KvMerger.Part(prefilled, [], 0, 0), leftAligned: true, capacity: capacity);
        using var emptyJoiners = model.EmptyCache(2);
        using var joiners = Prefill([[11, 12], [40, 41, 42, 43, 44, 45, 46]], emptyJoiners);
        var before = batch.Tensors.Select(t => t.GetTensorDataAsSpan<float>().ToArray()).ToArray();
        var tensors = batch.Tensors.ToArray();

        // Joiner row 1 (7 columns) into batch row 2; batch rows 0 and 1 keep decoding.
        model.Merger.Place(batch, [2], joiners, [1], columns: joiners.Length);

        var (heads, dim) = (model.Layout.KvHeads, model.Layout.HeadDim);
        for (var t = 0; t < tensors.Length; t++)
        {
            Assert.Same(tensors[t], batch.Tensors[t]);
            var placed = batch.Tensors[t].GetTensorDataAsSpan<float>();
            var source = joiners.Tensors[t].GetTensorDataAsSpan<float>();
            var rowSize = heads * capacity * dim;
            Assert.True(placed[..(2 * rowSize)].SequenceEqual(before[t].AsSpan(0, 2 * rowSize)), $"tensor {t}: rows 0 and 1 changed");
            for (var h = 0; h < heads; h++)
            {
                var target = placed.Slice((2 * rowSize) + (h * capacity * dim), capacity * dim);
                var from = source.Slice(((1 * heads) + h) * joiners.Length * dim, joiners.Length * dim);
                Assert.True(target[..from.Length].SequenceEqual(from), $"tensor {t}, head {h}: the placed row differs from the joiner's");
                Assert.True(target[from.Length..].IndexOfAnyExcept(0f) < 0, $"tensor {t}, head {h}: the placed row's room is not zeroed");
            }
        }

        Assert.Throws<ArgumentException>(() => model.Merger.Place(batch, [0, 1], joiners, [1], columns: joiners.Length));
    }

    [Fact]
    public void A_full_cache_is_not_written_in_place_and_a_moved_cache_cannot_move_again()
    {
        var owner = new Owner();
        var cache = new KvState(owner, [], batch: 1, length: 3) { Capacity = 4 };
        var extended = cache.Extend(1, new Owner(), logits: null);
        Assert.False(extended.HasRoom);
        Assert.Throws<InvalidOperationException>(() => cache.Extend(1, new Owner(), logits: null));
        Assert.Throws<InvalidOperationException>(() => extended.Extend(1, new Owner(), logits: null));
        cache.Dispose();
        Assert.Equal(0, owner.Disposals);
        extended.Dispose();
        Assert.Equal(1, owner.Disposals);
    }

    private sealed class Owner : IDisposable
    {
        public int Disposals { get; private set; }

        public void Dispose() => Disposals++;
    }
}

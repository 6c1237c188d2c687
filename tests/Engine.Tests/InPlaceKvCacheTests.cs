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

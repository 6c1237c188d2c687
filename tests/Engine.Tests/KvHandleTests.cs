using Distil.Engine.Generation;
using Distil.Engine.Onnx;

namespace Distil.Engine.Tests;

/// <summary>The scheduler's cache ownership rules: an owned cache is disposed exactly once, by whoever holds it last;
/// a borrowed one (a prefix-cache entry) never through the handle.</summary>
public sealed class KvHandleTests
{
    private sealed class CountingOwner : IDisposable
    {
        public int Disposals { get; private set; }

        public void Dispose() => Disposals++;
    }

    private static (KvState Cache, CountingOwner Owner) Cache()
    {
        var owner = new CountingOwner();
        return (new KvState(owner, [], batch: 1, length: 0), owner);
    }

    [Fact]
    public void Replacing_an_owned_cache_disposes_it_once_and_disposing_the_handle_disposes_the_last()
    {
        var (first, firstOwner) = Cache();
        var (second, secondOwner) = Cache();
        using (var handle = KvHandle.Owning(first))
        {
            handle.Reset(second);
            Assert.Equal(1, firstOwner.Disposals);
            Assert.Same(second, handle.State);
            Assert.Equal(0, secondOwner.Disposals);
        }

        Assert.Equal(1, firstOwner.Disposals);
        Assert.Equal(1, secondOwner.Disposals);
    }

    [Fact]
    public void A_borrowed_cache_is_never_disposed_and_cannot_be_handed_on()
    {
        var (borrowed, owner) = Cache();
        var (computed, computedOwner) = Cache();
        using (var handle = KvHandle.Borrowing(borrowed))
        {
            Assert.Throws<InvalidOperationException>(() => handle.Release());
            handle.Reset(computed); // the first prefill chunk after a cached prefix
        }

        Assert.Equal(0, owner.Disposals);
        Assert.Equal(1, computedOwner.Disposals);
    }

    [Fact]
    public void Release_hands_the_cache_on_and_leaves_the_handle_empty()
    {
        var (cache, owner) = Cache();
        KvState released;
        using (var handle = KvHandle.Owning(cache))
        {
            released = handle.Release();
            Assert.False(handle.HasValue);
            Assert.Throws<InvalidOperationException>(() => handle.State);
        }

        Assert.Same(cache, released);
        Assert.Equal(0, owner.Disposals);
        released.Dispose();
        Assert.Equal(1, owner.Disposals);
    }
}

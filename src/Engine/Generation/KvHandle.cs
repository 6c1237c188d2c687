using Distil.Engine.Onnx;

namespace Distil.Engine.Generation;

/// <summary>
/// Who disposes a KV cache, made explicit: a handle either owns its cache (disposes it when replaced or disposed)
/// or only borrows it (a prefix-cache entry, which the prefix cache keeps), and ownership leaves it only through
/// <see cref="Release"/>. The scheduler's caches change hands at every step, prefill chunk and merge; with one
/// handle per holder, a thrown step cannot leak a cache or dispose one it does not own.
/// </summary>
internal sealed class KvHandle : IDisposable
{
    private KvState? _state;
    private bool _owned;

    private KvHandle(KvState? state, bool owned)
    {
        _state = state;
        _owned = owned;
    }

    public bool HasValue => _state is not null;

    /// <summary>The cache held (owned or borrowed); still the handle's.</summary>
    public KvState State => _state ?? throw new InvalidOperationException("the handle holds no cache");

    public static KvHandle Empty() => new(null, owned: false);

    public static KvHandle Owning(KvState state) => new(state, owned: true);

    /// <summary>A cache someone else keeps: never disposed through this handle.</summary>
    public static KvHandle Borrowing(KvState state) => new(state, owned: false);

    /// <summary>Takes ownership of <paramref name="next"/> (null: none), first disposing the cache this handle owned.</summary>
    public void Reset(KvState? next)
    {
        if (_owned)
        {
            _state?.Dispose();
        }

        _state = next;
        _owned = next is not null;
    }

    /// <summary>Hands the cache and the duty to dispose it to the caller; the handle is empty afterwards.</summary>
    public KvState Release()
    {
        if (!_owned || _state is null)
        {
            throw new InvalidOperationException(_state is null ? "the handle holds no cache" : "a borrowed cache cannot be handed on");
        }

        var state = _state;
        _state = null;
        _owned = false;
        return state;
    }

    public void Dispose() => Reset(null);
}

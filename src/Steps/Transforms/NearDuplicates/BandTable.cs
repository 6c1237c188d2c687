namespace Distil.Steps;

/// <summary>
/// A set of 64-bit band hashes, optionally each with a row id: open addressing with linear probing over plain arrays,
/// 8 bytes a slot (16 with ids) at most three-quarters full, where a Dictionary spends about 28 bytes an entry. The
/// hashes are already mixed, so their low bits pick the slot. Zero marks an empty slot; the key zero is kept aside.
/// </summary>
internal sealed class BandTable(bool withValues)
{
    private ulong[] _keys = new ulong[1024];
    private long[]? _values = withValues ? new long[1024] : null;
    private int _count;
    private bool _hasZero;
    private long _zeroValue;

    public long Count => _count + (_hasZero ? 1 : 0);

    /// <summary>Whether <paramref name="key"/> is held, and its row id (0 when the table keeps none).</summary>
    public bool TryGetValue(ulong key, out long value)
    {
        if (key == 0)
        {
            value = _zeroValue;
            return _hasZero;
        }

        var mask = _keys.Length - 1;
        for (var slot = (int)(key & (ulong)mask); ; slot = (slot + 1) & mask)
        {
            if (_keys[slot] == key)
            {
                value = _values?[slot] ?? 0;
                return true;
            }

            if (_keys[slot] == 0)
            {
                value = 0;
                return false;
            }
        }
    }

    /// <summary>Adds <paramref name="key"/> with <paramref name="value"/> unless it is already held (the first value stays).</summary>
    public void TryAdd(ulong key, long value)
    {
        if (key == 0)
        {
            if (!_hasZero)
            {
                (_hasZero, _zeroValue) = (true, value);
            }

            return;
        }

        if ((_count + 1) * 4L > _keys.Length * 3L)
        {
            Grow();
        }

        if (Insert(_keys, _values, key, value))
        {
            _count++;
        }
    }

    private static bool Insert(ulong[] keys, long[]? values, ulong key, long value)
    {
        var mask = keys.Length - 1;
        for (var slot = (int)(key & (ulong)mask); ; slot = (slot + 1) & mask)
        {
            if (keys[slot] == key)
            {
                return false;
            }

            if (keys[slot] == 0)
            {
                keys[slot] = key;
                if (values is not null)
                {
                    values[slot] = value;
                }

                return true;
            }
        }
    }

    private void Grow()
    {
        var keys = new ulong[_keys.Length * 2];
        var values = _values is null ? null : new long[keys.Length];
        for (var slot = 0; slot < _keys.Length; slot++)
        {
            if (_keys[slot] != 0)
            {
                Insert(keys, values, _keys[slot], _values?[slot] ?? 0);
            }
        }

        (_keys, _values) = (keys, values);
    }
}

namespace Distil.Steps;

/// <summary>
/// The memory of a streaming near-duplicate pass: for each LSH band, the band hashes seen so far (and, when asked,
/// the row that represents each). It holds hashes only, never texts, so its size is bounded by rows × bands — 11 to
/// 21 bytes per distinct band hash, twice that with representatives — whatever the length of the texts.
/// </summary>
internal sealed class NearDuplicateIndex(LshBands bands, bool trackRepresentatives)
{
    /// <summary>What <see cref="Add"/> returns for a near-duplicate when representatives are not tracked.</summary>
    public const long UnknownRepresentative = -1;

    private readonly BandTable[] _bands = Enumerable.Range(0, bands.Bands).Select(_ => new BandTable(trackRepresentatives)).ToArray();
    private readonly ulong[] _hashes = new ulong[bands.Bands];

    /// <summary>
    /// Looks up a row by its signature and remembers it. Returns the representative of the earliest row it shares a
    /// band with (it is then a near-duplicate; <see cref="UnknownRepresentative"/> when not tracked), or null when it
    /// shares none (it represents itself). Every band hash it brings that is new is remembered under its
    /// representative, so a later row that resembles it, but not its representative, still lands in the same cluster.
    /// </summary>
    public long? Add(ReadOnlySpan<ulong> signature, long rowId)
    {
        long? representative = null;
        for (var band = 0; band < _hashes.Length; band++)
        {
            _hashes[band] = bands.Hash(signature, band);
            if (_bands[band].TryGetValue(_hashes[band], out var seen) && (representative is null || seen < representative))
            {
                representative = trackRepresentatives ? seen : UnknownRepresentative;
            }
        }

        for (var band = 0; band < _hashes.Length; band++)
        {
            _bands[band].TryAdd(_hashes[band], representative ?? rowId);
        }

        return representative;
    }

    /// <summary>Distinct band hashes held (what the memory grows with).</summary>
    public long Entries => _bands.Sum(b => b.Count);
}

namespace Distil.Steps;

/// <summary>Whether shingles are runs of words or of characters.</summary>
internal enum ShingleKind
{
    Word,
    Char,
}

/// <summary>
/// Turns a text into the 64-bit hashes of its n-gram shingles, without allocating a string per shingle. Words are
/// maximal runs of letters and digits (punctuation and spacing do not count); character shingles are taken from the
/// words joined by single spaces, so "step-by-step" and "step by step" shingle alike. A text shorter than n gives one shingle, the whole of it, so
/// short texts still compare. The hashes are fixed functions of the characters (never string.GetHashCode, which
/// changes per process), so the same input gives the same shingles in every run.
/// </summary>
internal sealed class Shingler(ShingleKind kind, int n, bool lowercase)
{
    private readonly List<ulong> _units = [];

    public ShingleKind Kind => kind;

    public int N => n;

    /// <summary>Clears <paramref name="hashes"/> and fills it with the shingle hashes of <paramref name="text"/> (repeats possible).</summary>
    public void Collect(ReadOnlySpan<char> text, List<ulong> hashes)
    {
        hashes.Clear();
        Units(text);
        Windows(_units, n, hashes);
    }

    /// <summary>The word (or character) hashes of <paramref name="text"/>, in order: what windows of any length are built from.</summary>
    public IReadOnlyList<ulong> Units(ReadOnlySpan<char> text)
    {
        _units.Clear();
        if (kind == ShingleKind.Word)
        {
            WordHashes(text);
        }
        else
        {
            CharHashes(text);
        }

        return _units;
    }

    /// <summary>Hashes of every window of <paramref name="length"/> units (or of all of them when fewer).</summary>
    public static void Windows(IReadOnlyList<ulong> units, int length, List<ulong> into)
    {
        if (units.Count == 0)
        {
            return;
        }

        var width = Math.Min(length, units.Count);
        for (var start = 0; start + width <= units.Count; start++)
        {
            into.Add(Window(units, start, width));
        }
    }

    /// <summary>The hash of <paramref name="width"/> units from <paramref name="start"/>; order matters, and the width is part of it.</summary>
    public static ulong Window(IReadOnlyList<ulong> units, int start, int width)
    {
        var hash = StableHash.Mix((ulong)width);
        for (var i = start; i < start + width; i++)
        {
            hash = StableHash.Mix(hash ^ units[i]);
        }

        return hash;
    }

    private void WordHashes(ReadOnlySpan<char> text)
    {
        var hash = StableHash.Start;
        var inWord = false;
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                hash = StableHash.Add(hash, Fold(c));
                inWord = true;
            }
            else if (inWord)
            {
                _units.Add(StableHash.Mix(hash));
                hash = StableHash.Start;
                inWord = false;
            }
        }

        if (inWord)
        {
            _units.Add(StableHash.Mix(hash));
        }
    }

    private void CharHashes(ReadOnlySpan<char> text)
    {
        // Letters and digits, with each run of anything else (spacing, punctuation) as one space between words.
        var pendingSpace = false;
        foreach (var c in text)
        {
            if (!char.IsLetterOrDigit(c))
            {
                pendingSpace = _units.Count > 0;
                continue;
            }

            if (pendingSpace)
            {
                _units.Add(StableHash.Mix(StableHash.Add(StableHash.Start, ' ')));
                pendingSpace = false;
            }

            _units.Add(StableHash.Mix(StableHash.Add(StableHash.Start, Fold(c))));
        }
    }

    private char Fold(char c) => lowercase ? char.ToLowerInvariant(c) : c;

    public static ShingleKind ParseKind(Distil.Pipeline.StepParameters parameters, string name) => parameters.GetString(name) switch
    {
        null or "word" => ShingleKind.Word,
        "char" => ShingleKind.Char,
        var other => throw parameters.Error(name, $"'{name}' must be \"word\" or \"char\", not {Distil.Pipeline.PipelineDefinitionException.Quote(other)}"),
    };
}

/// <summary>FNV-1a over UTF-16 code units, finished with a 64-bit mixer: stable across processes and machines.</summary>
internal static class StableHash
{
    public const ulong Start = 0xcbf29ce484222325;

    public static ulong Add(ulong hash, char c) => (hash ^ c) * 0x100000001b3;

    /// <summary>SplitMix64 as a hash: spreads every input bit over the whole word.</summary>
    public static ulong Mix(ulong x) => Distil.Seeding.SplitMix64.Hash(x);
}

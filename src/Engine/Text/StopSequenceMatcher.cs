namespace Distil.Engine.Text;

/// <summary>
/// Watches decoded text for stop sequences. Each chunk returns the text that is safe to emit: everything before
/// a matched stop, and never a tail that could still grow into a stop with the next chunk.
/// </summary>
public sealed class StopSequenceMatcher
{
    private readonly string[] _stops;
    private readonly int _longest;
    private string _held = string.Empty;

    public StopSequenceMatcher(IReadOnlyList<string>? stops)
    {
        _stops = (stops ?? []).Where(s => !string.IsNullOrEmpty(s)).Distinct(StringComparer.Ordinal).ToArray();
        _longest = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    /// <summary>Whether a stop sequence has matched; after that every chunk is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>The stop that matched, if any.</summary>
    public string? MatchedStop { get; private set; }

    /// <summary>Adds decoded text; returns what may be emitted now and whether a stop matched (its text is withheld).</summary>
    public StopSequenceResult Push(string chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (Stopped)
        {
            return new StopSequenceResult(string.Empty, true);
        }
        if (_stops.Length == 0)
        {
            return new StopSequenceResult(chunk, false);
        }
        var text = _held.Length == 0 ? chunk : _held + chunk;
        var first = -1;
        foreach (var stop in _stops)
        {
            // Only the held tail plus the new chunk can contain a new match; earlier text was already cleared.
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
                MatchedStop = stop;
            }
        }
        if (first >= 0)
        {
            Stopped = true;
            _held = string.Empty;
            return new StopSequenceResult(text[..first], true);
        }
        var keep = PartialStopLength(text);
        _held = text[(text.Length - keep)..];
        return new StopSequenceResult(text[..(text.Length - keep)], false);
    }

    /// <summary>At the end of generation: the held-back tail, which turned out not to be a stop.</summary>
    public string Flush()
    {
        var rest = Stopped ? string.Empty : _held;
        _held = string.Empty;
        return rest;
    }

    /// <summary>The longest suffix of <paramref name="text"/> that is a proper prefix of some stop.</summary>
    private int PartialStopLength(string text)
    {
        for (var length = Math.Min(_longest - 1, text.Length); length > 0; length--)
        {
            var suffix = text.AsSpan(text.Length - length);
            foreach (var stop in _stops)
            {
                if (stop.Length > length && stop.AsSpan().StartsWith(suffix, StringComparison.Ordinal))
                {
                    return length;
                }
            }
        }
        return 0;
    }
}

/// <summary>Text safe to emit, and whether generation should stop.</summary>
public readonly record struct StopSequenceResult(string Text, bool Stopped);

namespace Distil.Judge;

/// <summary>
/// Judges tend to prefer longer answers, and DPO on such pairs teaches length rather than quality. This tallies,
/// from the pairs' token counts, how often the chosen response is the longer one and how rating follows length
/// (Pearson r over both responses of every pair that has counts), streaming: one pass, constant memory.
/// </summary>
public sealed class LengthBias
{
    /// <summary>Drop reason: the longer response has more than <c>max_length_ratio</c> times the shorter's tokens.</summary>
    public const string AboveMaxRatio = "length_ratio_above_max";

    /// <summary>Drop reason: <c>max_length_ratio</c> is set but the row has no per-response token counts to check.</summary>
    public const string MissingTokenCounts = "missing_token_counts";

    private double _meanRating;
    private double _meanTokens;
    private double _ratingSquares;
    private double _tokenSquares;
    private double _coMoments;

    public long Pairs { get; private set; }

    public long ChosenLonger { get; private set; }

    public long SameLength { get; private set; }

    /// <summary>Responses that entered the correlation (two per pair).</summary>
    public long Responses { get; private set; }

    /// <summary>Longer over shorter token count; an empty response next to a non-empty one is infinitely apart.</summary>
    public static double Ratio(long a, long b)
    {
        var (longer, shorter) = a >= b ? (a, b) : (b, a);
        return longer == 0 ? 1 : shorter == 0 ? double.PositiveInfinity : (double)longer / shorter;
    }

    public void AddPair(double chosenRating, long chosenTokens, double rejectedRating, long rejectedTokens)
    {
        Pairs++;
        if (chosenTokens > rejectedTokens)
        {
            ChosenLonger++;
        }
        else if (chosenTokens == rejectedTokens)
        {
            SameLength++;
        }

        AddResponse(chosenRating, chosenTokens);
        AddResponse(rejectedRating, rejectedTokens);
    }

    /// <summary>Pearson correlation of rating and token count; null with fewer than two responses or no spread.</summary>
    public double? Correlation =>
        Responses < 2 || _ratingSquares <= 0 || _tokenSquares <= 0 ? null : _coMoments / Math.Sqrt(_ratingSquares * _tokenSquares);

    /// <summary>Welford's update, so a million pairs of large counts lose no precision to cancelling sums.</summary>
    private void AddResponse(double rating, long tokens)
    {
        Responses++;
        var dx = rating - _meanRating;
        var dy = tokens - _meanTokens;
        _meanRating += dx / Responses;
        _meanTokens += dy / Responses;
        _ratingSquares += dx * (rating - _meanRating);
        _tokenSquares += dy * (tokens - _meanTokens);
        _coMoments += dx * (tokens - _meanTokens);
    }
}

namespace Distil.Judge;

/// <summary>
/// Whether two or more judges that rated the same responses name the same best one. A judge's best is its single
/// highest rating; a judge with a tie at the top, a missing rating or a different number of ratings names none, and
/// then the row is not comparable (null) rather than a disagreement.
/// </summary>
public static class JudgeAgreement
{
    /// <summary>The index of the single highest rating, or null (empty, a missing rating, or a tie at the top).</summary>
    public static int? Best(IReadOnlyList<double?> ratings)
    {
        int? best = null;
        var top = double.NegativeInfinity;
        var tied = false;
        for (var i = 0; i < ratings.Count; i++)
        {
            if (ratings[i] is not { } rating)
            {
                return null;
            }

            if (rating > top)
            {
                (best, top, tied) = (i, rating, false);
            }
            else if (rating == top)
            {
                tied = true;
            }
        }

        return tied ? null : best;
    }

    /// <summary>True when every judge names the same best response, false when they name different ones, null
    /// when any judge names none or the judges rated different numbers of responses.</summary>
    public static bool? SameBest(IReadOnlyList<IReadOnlyList<double?>> ratingsPerJudge)
    {
        if (ratingsPerJudge.Count < 2 || ratingsPerJudge.Any(r => r.Count != ratingsPerJudge[0].Count))
        {
            return null;
        }

        var bests = ratingsPerJudge.Select(Best).ToList();
        return bests.Any(b => b is null) ? null : bests.Distinct().Count() == 1;
    }
}

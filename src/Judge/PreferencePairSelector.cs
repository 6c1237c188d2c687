using Distil.Seeding;

namespace Distil.Judge;

/// <summary>How the rejected response is picked once the best one is known.</summary>
public enum PairStrategy
{
    /// <summary>Chosen = a highest-rated response, rejected = a lowest-rated one.</summary>
    BestVsWorst,

    /// <summary>Chosen = a highest-rated response, rejected = a random response rated lower (seeded per row).</summary>
    BestVsRandomLower,
}

/// <summary>A selected pair: indices into the row's responses, and the scores that decided it.</summary>
public sealed record PreferencePair(int Chosen, int Rejected, double ChosenScore, double RejectedScore);

/// <summary>Why a row yields no pair; the names are the drop reasons shown in the run metrics.</summary>
public static class NoPairReason
{
    public const string MissingRatings = "missing_ratings";
    public const string Tie = "tie";
    public const string BelowMargin = "below_min_margin";
    public const string TooFewResponses = "fewer_than_two_responses";
}

/// <summary>The outcome for one row: a pair, or the reason there is none.</summary>
public sealed record PairSelection(PreferencePair? Pair, string? DropReason);

/// <summary>
/// Picks the chosen and rejected responses of a row from its scores (ratings averaged across aspects).
/// Ties among equally good (or equally bad) responses are broken with a seeded pick, not by position,
/// so the first model is not favoured; rows whose best and candidate worst are too close are dropped.
/// </summary>
public sealed class PreferencePairSelector(PairStrategy strategy, double minMargin, long seed)
{
    public PairStrategy Strategy { get; } = strategy;

    public double MinMargin { get; } = minMargin >= 0 ? minMargin : throw new ArgumentOutOfRangeException(nameof(minMargin));

    public PairSelection Select(IReadOnlyList<double?> scores, long rowId)
    {
        if (scores.Count < 2)
        {
            return new(null, NoPairReason.TooFewResponses);
        }

        if (scores.Any(s => s is null))
        {
            return new(null, NoPairReason.MissingRatings);
        }

        var values = scores.Select(s => s!.Value).ToArray();
        var best = values.Max();
        var worst = values.Min();
        if (best == worst)
        {
            return new(null, NoPairReason.Tie);
        }

        var random = StableSeed.Random(seed, rowId, StableSeed.PairChoice);
        var chosen = Pick(Indices(values, v => v == best), ref random);
        var candidates = Strategy == PairStrategy.BestVsWorst
            ? Indices(values, v => v == worst)
            : Indices(values, v => v < best && best - v >= MinMargin);
        if (candidates.Count == 0 || best - values[candidates[0]] < MinMargin)
        {
            return new(null, NoPairReason.BelowMargin);
        }

        var rejected = Pick(candidates, ref random);
        return new(new PreferencePair(chosen, rejected, values[chosen], values[rejected]), null);
    }

    /// <summary>
    /// Per-response score from one or more aspects' ratings: the mean across aspects, or null for a response that
    /// lacks a rating in any of them.
    /// </summary>
    public static IReadOnlyList<double?> AverageAcrossAspects(IReadOnlyList<IReadOnlyList<double?>> ratingsPerAspect, int responses)
    {
        var scores = new double?[responses];
        for (var i = 0; i < responses; i++)
        {
            double sum = 0;
            var complete = ratingsPerAspect.Count > 0;
            foreach (var aspect in ratingsPerAspect)
            {
                if (aspect.Count != responses || aspect[i] is not { } r)
                {
                    complete = false;
                    break;
                }

                sum += r;
            }

            scores[i] = complete ? sum / ratingsPerAspect.Count : null;
        }

        return scores;
    }

    private static List<int> Indices(double[] values, Func<double, bool> predicate) =>
        Enumerable.Range(0, values.Length).Where(i => predicate(values[i])).ToList();

    private static int Pick(List<int> indices, ref SplitMix64 random) =>
        indices.Count == 1 ? indices[0] : indices[random.Next(indices.Count)];
}

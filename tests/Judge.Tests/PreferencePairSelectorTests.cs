using Distil.Judge;

namespace Distil.Judge.Tests;

public class PreferencePairSelectorTests
{
    private static IReadOnlyList<double?> Scores(params double?[] values) => values;

    [Fact]
    public void Best_vs_worst_picks_the_highest_and_lowest()
    {
        var selection = new PreferencePairSelector(PairStrategy.BestVsWorst, 0, 1).Select(Scores(3, 5, 1, 4), 0);

        Assert.Equal(new PreferencePair(1, 2, 5, 1), selection.Pair);
    }

    [Fact]
    public void A_tie_drops_the_row()
    {
        var selection = new PreferencePairSelector(PairStrategy.BestVsWorst, 0, 1).Select(Scores(4, 4, 4), 0);

        Assert.Null(selection.Pair);
        Assert.Equal(NoPairReason.Tie, selection.DropReason);
    }

    [Fact]
    public void A_gap_below_the_minimum_margin_drops_the_row()
    {
        var selector = new PreferencePairSelector(PairStrategy.BestVsWorst, 2, 1);

        Assert.Equal(NoPairReason.BelowMargin, selector.Select(Scores(4, 3), 0).DropReason);
        Assert.Equal(new PreferencePair(0, 1, 5, 3), selector.Select(Scores(5, 3), 0).Pair);
    }

    [Fact]
    public void Missing_ratings_skip_the_row()
    {
        var selector = new PreferencePairSelector(PairStrategy.BestVsWorst, 0, 1);

        Assert.Equal(NoPairReason.MissingRatings, selector.Select(Scores(5, null), 0).DropReason);
        Assert.Equal(NoPairReason.TooFewResponses, selector.Select(Scores(5), 0).DropReason);
    }

    [Fact]
    public void Random_lower_picks_only_lower_rated_responses_and_is_seeded()
    {
        var selector = new PreferencePairSelector(PairStrategy.BestVsRandomLower, 0, 9);
        var scores = Scores(2, 5, 3, 5, 1);
        var rejected = new HashSet<int>();
        for (long row = 0; row < 100; row++)
        {
            var pair = selector.Select(scores, row).Pair!;
            Assert.Contains(pair.Chosen, new[] { 1, 3 });
            Assert.Contains(pair.Rejected, new[] { 0, 2, 4 });
            Assert.Equal(pair, selector.Select(scores, row).Pair);
            rejected.Add(pair.Rejected);
        }

        Assert.Equal(3, rejected.Count);
    }

    [Fact]
    public void Random_lower_respects_the_margin()
    {
        var selector = new PreferencePairSelector(PairStrategy.BestVsRandomLower, 2, 9);
        for (long row = 0; row < 50; row++)
        {
            Assert.Equal(0, selector.Select(Scores(1, 4, 5), row).Pair!.Rejected);
        }

        Assert.Equal(NoPairReason.BelowMargin, selector.Select(Scores(4, 5), 0).DropReason);
    }

    [Fact]
    public void Equally_best_responses_are_chosen_by_seed_not_by_position()
    {
        var selector = new PreferencePairSelector(PairStrategy.BestVsWorst, 0, 5);
        var chosen = Enumerable.Range(0, 100).Select(r => selector.Select(Scores(5, 5, 1), r).Pair!.Chosen).ToList();

        Assert.InRange(chosen.Count(c => c == 0), 25, 75);
        Assert.All(chosen, c => Assert.NotEqual(2, c));
    }

    [Fact]
    public void Ratings_are_averaged_across_aspects()
    {
        var scores = PreferencePairSelector.AverageAcrossAspects([Scores(4, 2), Scores(5, 3), Scores(3, 1)], 2);
        Assert.Equal([4.0, 2.0], scores);

        var incomplete = PreferencePairSelector.AverageAcrossAspects([Scores(4, 2), Scores(5, null)], 2);
        Assert.Equal([4.5, null], incomplete);

        var wrongLength = PreferencePairSelector.AverageAcrossAspects([Scores(4, 2), Scores(5)], 2);
        Assert.Equal([null, null], wrongLength);
    }
}

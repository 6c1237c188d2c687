using Distil.Judge;

namespace Distil.Judge.Tests;

public class ResponseOrderTests
{
    [Fact]
    public void Same_seed_and_row_always_give_the_same_order()
    {
        for (long row = 0; row < 50; row++)
        {
            Assert.Equal(ResponseOrder.Shuffled(5, 7, row).ShownToOriginal, ResponseOrder.Shuffled(5, 7, row).ShownToOriginal);
        }
    }

    [Fact]
    public void Orders_are_permutations_that_vary_across_rows()
    {
        var orders = Enumerable.Range(0, 200).Select(r => ResponseOrder.Shuffled(4, 7, r).ShownToOriginal).ToList();

        Assert.All(orders, o => Assert.Equal([0, 1, 2, 3], o.Order()));
        Assert.True(orders.Select(o => string.Join(",", o)).Distinct().Count() > 12, "too few distinct orders");
        // Position bias is what shuffling fights: each response must reach the first slot about equally often.
        var firstSlot = orders.GroupBy(o => o[0]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, firstSlot.Count);
        Assert.All(firstSlot.Values, count => Assert.InRange(count, 25, 75));
    }

    [Fact]
    public void Two_responses_are_swapped_for_some_rows_and_not_others()
    {
        var swapped = Enumerable.Range(0, 100).Count(r => ResponseOrder.Shuffled(2, 1, r).ShownToOriginal[0] == 1);
        Assert.InRange(swapped, 30, 70);
    }

    [Fact]
    public void Ratings_in_shown_order_map_back_to_the_original_responses()
    {
        var responses = new[] { "alpha", "beta", "gamma", "delta" };
        for (long row = 0; row < 30; row++)
        {
            var order = ResponseOrder.Shuffled(responses.Length, 3, row);
            var shown = order.ToShown(responses);

            // A judge that rates each response by its identity (alpha=1 … delta=4), whatever its position.
            var shownRatings = shown.Select(r => Array.IndexOf(responses, r) + 1).ToArray();
            var verdict = order.ToOriginal(new JudgeVerdict(shownRatings, shown.Select(s => "about " + s).ToArray(), null));

            Assert.Equal([1, 2, 3, 4], verdict.Ratings);
            Assert.Equal(["about alpha", "about beta", "about gamma", "about delta"], verdict.Rationales);
        }
    }

    [Fact]
    public void Identity_order_shows_responses_as_they_are()
    {
        var order = ResponseOrder.Identity(3);
        Assert.Equal(["a", "b", "c"], order.ToShown(["a", "b", "c"]));
    }
}

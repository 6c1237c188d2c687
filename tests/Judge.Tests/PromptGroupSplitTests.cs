using Distil.Judge;

namespace Distil.Judge.Tests;

public sealed class PromptGroupSplitTests
{
    /// <summary>500 pairs over prompts that repeat 1 to 4 times, as a dataset with duplicate prompts has them.</summary>
    private static List<string> PromptIds(int pairs, int seed)
    {
        var random = new Random(seed);
        var ids = new List<string>();
        for (var prompt = 0; ids.Count < pairs; prompt++)
        {
            var repeats = 1 + random.Next(4);
            ids.AddRange(Enumerable.Repeat(DpoExample.PromptIdOf($"prompt {prompt}"), Math.Min(repeats, pairs - ids.Count)));
        }

        return ids;
    }

    private static (List<string> Train, List<string> Test) Split(IReadOnlyList<string> ids, TestSize size, long seed)
    {
        var split = new PromptGroupSplit(seed);
        foreach (var id in ids)
        {
            split.Add(id);
        }

        var test = split.ChooseTest(size);
        var inTest = ids.Where(id => test.Contains(split.KeyOf(id))).ToList();
        var inTrain = ids.Where(id => !test.Contains(split.KeyOf(id))).ToList();
        return (inTrain, inTest);
    }

    [Theory]
    [InlineData(0.1, null)]
    [InlineData(0.33, null)]
    [InlineData(null, 37L)]
    [InlineData(null, 1L)]
    public void No_prompt_is_in_both_splits_and_the_test_size_is_as_asked_within_one_prompt(double? fraction, long? count)
    {
        var ids = PromptIds(500, seed: 7);
        var largestGroup = ids.GroupBy(i => i).Max(g => g.Count());
        var size = new TestSize(fraction, count);
        var target = size.TargetOf(ids.Count);

        var (train, test) = Split(ids, size, seed: 3);

        Assert.Empty(train.Intersect(test));
        Assert.Equal(ids.Count, train.Count + test.Count);
        Assert.InRange(test.Count, target, target + largestGroup - 1);
    }

    [Fact]
    public void The_split_depends_on_the_seed_not_on_the_order_of_the_pairs()
    {
        var ids = PromptIds(300, seed: 1);
        var shuffled = ids.OrderBy(_ => Random.Shared.Next()).ToList();
        var size = new TestSize(0.2, null);

        var (_, test) = Split(ids, size, seed: 5);
        var (_, testShuffled) = Split(shuffled, size, seed: 5);
        var (_, otherSeed) = Split(ids, size, seed: 6);

        Assert.Equal(test.ToHashSet(), testShuffled.ToHashSet());
        Assert.NotEqual(test.ToHashSet(), otherSeed.ToHashSet());
    }

    [Fact]
    public void A_test_size_that_would_take_every_prompt_is_refused()
    {
        var split = new PromptGroupSplit(0);
        split.Add("a");
        split.Add("b");

        var error = Assert.Throws<InvalidDataException>(() => split.ChooseTest(new TestSize(null, 2)));

        Assert.Contains("leave train empty", error.Message);
    }
}

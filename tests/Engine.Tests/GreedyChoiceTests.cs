using Distil.Engine.Generation;
using Distil.Engine.Text;

namespace Distil.Engine.Tests;

/// <summary>The engine's SIMD greedy pick takes exactly the token engine-text's sampler takes at temperature 0.</summary>
public sealed class GreedyChoiceTests
{
    private static int SamplerChoice(float[] row) =>
        new Sampler(new SamplingOptions(Temperature: 0), 1).Sample((float[])row.Clone(), []);

    /// <summary>The sampler's token, or -1 where it reports that nothing can be chosen.</summary>
    private static int SamplerChoiceOrNone(float[] row) =>
        row.Any(v => v > float.NegativeInfinity) ? SamplerChoice(row) : -1;

    [Theory]
    [InlineData(100_512)]
    [InlineData(37)]
    [InlineData(3)]
    public void Picks_the_samplers_token_on_random_rows_with_ties_masks_and_nan(int vocab)
    {
        var random = new Random(vocab);
        for (var trial = 0; trial < 200; trial++)
        {
            var row = new float[vocab];
            for (var i = 0; i < vocab; i++)
            {
                // Coarse values make ties common; some masked and NaN entries; ±0 both appear.
                row[i] = random.Next(12) switch
                {
                    0 => float.NegativeInfinity,
                    1 => float.NaN,
                    2 => -0f,
                    3 => 0f,
                    _ => random.Next(-8, trial % 3 == 0 ? 1 : 9),
                };
            }

            Assert.Equal(SamplerChoiceOrNone(row), GreedyChoice.IndexOfMax(row));
        }
    }

    [Fact]
    public void Max_in_the_tail_after_the_last_full_vector_is_found()
    {
        var row = Enumerable.Repeat(-1f, 1003).ToArray();
        row[1002] = 5;
        Assert.Equal(1002, GreedyChoice.IndexOfMax(row));
        row[1001] = 5;
        Assert.Equal(1001, GreedyChoice.IndexOfMax(row));
    }

    [Fact]
    public void A_row_with_nothing_to_choose_is_left_to_the_sampler()
    {
        var row = new float[64];
        Array.Fill(row, float.NegativeInfinity);
        row[10] = float.NaN;
        Assert.Equal(-1, GreedyChoice.IndexOfMax(row));
        Assert.Throws<InvalidOperationException>(() => SamplerChoice(row));
    }
}

using Distil.Seeding;

namespace Distil.Judge;

/// <summary>
/// The order in which a row's responses are shown to the judge. Judges favour some positions (often the first),
/// so each row gets its own seeded permutation; ratings come back in shown order and are mapped to the original.
/// </summary>
public sealed class ResponseOrder
{
    private readonly int[] _shownToOriginal;

    private ResponseOrder(int[] shownToOriginal) => _shownToOriginal = shownToOriginal;

    /// <summary><c>ShownToOriginal[k]</c> is the original index of the response shown in position k.</summary>
    public IReadOnlyList<int> ShownToOriginal => _shownToOriginal;

    public int Count => _shownToOriginal.Length;

    public static ResponseOrder Identity(int count) => new(Enumerable.Range(0, count).ToArray());

    /// <summary>A Fisher–Yates shuffle seeded by (seed, row id): the same row always gets the same order.</summary>
    public static ResponseOrder Shuffled(int count, long seed, long rowId)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var random = StableSeed.Random(seed, rowId, StableSeed.ResponseOrder);
        for (var i = count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return new ResponseOrder(order);
    }

    /// <summary>Puts items given in original order into shown order.</summary>
    public IReadOnlyList<T> ToShown<T>(IReadOnlyList<T> original)
    {
        CheckCount(original.Count);
        return _shownToOriginal.Select(i => original[i]).ToArray();
    }

    /// <summary>Puts items given in shown order back into original order.</summary>
    public IReadOnlyList<T> ToOriginal<T>(IReadOnlyList<T> shown)
    {
        CheckCount(shown.Count);
        var result = new T[shown.Count];
        for (var k = 0; k < shown.Count; k++)
        {
            result[_shownToOriginal[k]] = shown[k];
        }

        return result;
    }

    /// <summary>A verdict about shown positions, rewritten to be about the original responses.</summary>
    public JudgeVerdict ToOriginal(JudgeVerdict shown) => new(
        ToOriginal(shown.Ratings),
        ToOriginal(shown.Rationales),
        shown.Types is null ? null : ToOriginal(shown.Types));

    private void CheckCount(int count)
    {
        if (count != _shownToOriginal.Length)
        {
            throw new ArgumentException($"expected {_shownToOriginal.Length} items, got {count}");
        }
    }
}

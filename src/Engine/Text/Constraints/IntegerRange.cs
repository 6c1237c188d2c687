namespace Distil.Engine.Text.Constraints;

/// <summary>
/// Which digit strings can still become an integer in [<see cref="Min"/>, <see cref="Max"/>], and how many more
/// digits that takes. Magnitudes are limited to 18 digits so that all arithmetic fits a long.
/// </summary>
internal sealed class IntegerRange
{
    public const int MaxDigits = 18;
    public const long Limit = 999_999_999_999_999_999;

    private static readonly long[] Pow10 = Enumerable.Range(0, MaxDigits + 1).Select(k => (long)Math.Pow(10, k)).ToArray();

    public IntegerRange(long min, long max)
    {
        Min = Math.Max(min, -Limit);
        Max = Math.Min(max, Limit);
        MinLength = Math.Min(
            Contains(0) ? 1 : int.MaxValue,
            Math.Min(
                Math.Max(Min, 1) <= Max ? DigitCount(Math.Max(Min, 1)) : int.MaxValue,
                Math.Min(Max, -1) >= Min ? 1 + DigitCount(-Math.Min(Max, -1)) : int.MaxValue));
    }

    public long Min { get; }

    public long Max { get; }

    /// <summary>Bytes of the shortest integer in range.</summary>
    public int MinLength { get; }

    public bool AllowsNegative => Min < 0;

    /// <summary>Digits needed after a lone minus sign.</summary>
    public int MinDigitsAfterMinus => DigitCount(-Math.Min(Max, -1));

    public bool Contains(long value) => value >= Min && value <= Max;

    /// <summary>Whether a number starting with these digits (magnitude <paramref name="magnitude"/>) can end in range.</summary>
    public bool Feasible(bool negative, long magnitude, int digits) => ExtraDigits(negative, magnitude, digits) >= 0;

    /// <summary>The fewest further digits that put the number in range (0: it already is), or -1 when none do.</summary>
    public int ExtraDigits(bool negative, long magnitude, int digits)
    {
        if (magnitude == 0)
        {
            // A leading zero cannot be followed by digits, and "-0" is not written.
            return !negative && Contains(0) ? 0 : -1;
        }
        for (var k = 0; digits + k <= MaxDigits; k++)
        {
            var low = magnitude * Pow10[k];
            var high = low + Pow10[k] - 1;
            var (from, to) = negative ? (-high, -low) : (low, high);
            if (from <= Max && to >= Min)
            {
                return k;
            }
        }
        return -1;
    }

    private static int DigitCount(long magnitude)
    {
        var digits = 1;
        while (magnitude >= 10)
        {
            magnitude /= 10;
            digits++;
        }
        return digits;
    }
}

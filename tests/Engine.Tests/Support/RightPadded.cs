namespace Distil.Engine.Tests.Support;

/// <summary>Prompts laid out as one left-aligned prefill batch (each from column 0, padding after), as the
/// scheduler feeds GroupQueryAttention graphs: ids, positions and mask, each [rows, width].</summary>
internal sealed record RightPadded(long[] Ids, long[] Positions, long[] Mask, int Width)
{
    public static RightPadded Of(long[][] prompts)
    {
        var width = prompts.Max(p => p.Length);
        var ids = new long[prompts.Length * width];
        var positions = new long[prompts.Length * width];
        var mask = new long[prompts.Length * width];
        for (var r = 0; r < prompts.Length; r++)
        {
            prompts[r].CopyTo(ids, r * width);
            for (var c = 0; c < prompts[r].Length; c++)
            {
                positions[(r * width) + c] = c;
                mask[(r * width) + c] = 1;
            }
        }

        return new RightPadded(ids, positions, mask, width);
    }
}

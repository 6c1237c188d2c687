namespace Distil.Steps;

/// <summary>
/// Per-row token counts are written to columns named after the step (<c>&lt;step&gt;_input_tokens</c>,
/// <c>&lt;step&gt;_output_tokens</c>), so two generation branches joined by combine_columns never collide and
/// the dataset card can sum every column with these suffixes.
/// </summary>
public static class TokenColumns
{
    public const string InputSuffix = "_input_tokens";
    public const string OutputSuffix = "_output_tokens";

    /// <summary>
    /// Output tokens of each response as the model reported them (null where it reported none): one count with a
    /// single generation, a list with several. Unlike the per-step sums it is not prefixed, so combine_columns can
    /// gather it next to <c>generation</c> and preference_pairs can find it under one name.
    /// </summary>
    public const string PerResponse = "generation_tokens";

    public static string Input(string step) => step + InputSuffix;

    public static string Output(string step) => step + OutputSuffix;
}

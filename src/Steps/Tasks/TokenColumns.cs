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

    public static string Input(string step) => step + InputSuffix;

    public static string Output(string step) => step + OutputSuffix;
}

using System.Globalization;

namespace Distil.Pipeline;

/// <summary>
/// A pipeline definition or its input is wrong in a way the user can fix. The message names the file,
/// the line and the JSON path (or the input file and line) so that the fix is obvious. When validation
/// found several problems, <see cref="Problems"/> lists each (located) and the message holds them all.
/// </summary>
public sealed class PipelineDefinitionException : Exception
{
    /// <summary>Longest message kept for one problem; a longer one is cut (a pasted 100 kB value must not flood the terminal).</summary>
    public const int MaxProblemLength = 2000;

    public PipelineDefinitionException(string message, string? file = null, long? line = null, string? jsonPath = null, Exception? inner = null)
        : base(Format(message, file, line, jsonPath), inner)
    {
        File = file;
        Line = line;
        JsonPath = jsonPath;
        Problems = [this];
    }

    private PipelineDefinitionException(IReadOnlyList<PipelineDefinitionException> problems)
        : base($"{problems.Count} problems:{string.Concat(problems.Select(p => "\n  " + p.Message))}")
    {
        File = problems[0].File;
        Line = problems[0].Line;
        JsonPath = problems[0].JsonPath;
        Problems = problems;
    }

    public string? File { get; }

    public long? Line { get; }

    public string? JsonPath { get; }

    /// <summary>Every problem found (this exception alone when there was one).</summary>
    public IReadOnlyList<PipelineDefinitionException> Problems { get; }

    /// <summary>One exception for all of <paramref name="problems"/>, ordered by line (problems without a line last).</summary>
    public static PipelineDefinitionException Combine(IReadOnlyList<PipelineDefinitionException> problems)
    {
        var ordered = problems.SelectMany(p => p.Problems).OrderBy(p => p.Line ?? long.MaxValue).ToList();
        return ordered.Count == 1 ? ordered[0] : new PipelineDefinitionException(ordered);
    }

    /// <summary>A value from the user's file, quoted for a message and cut to <paramref name="max"/> characters.</summary>
    public static string Quote(string? value, int max = 60)
    {
        if (value is null)
        {
            return "null";
        }

        var shown = value.Length <= max ? value : $"{value[..max]}… ({value.Length:N0} characters)";
        return $"'{ShowControls(shown)}'";
    }

    private static string ShowControls(string text)
    {
        var shown = new System.Text.StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var paired = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            if (paired)
            {
                shown.Append(c).Append(text[++i]);
            }
            else if (char.IsControl(c) || char.IsSurrogate(c))
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                shown.Append(c);
            }
        }

        return shown.ToString();
    }

    private static string Format(string message, string? file, long? line, string? jsonPath)
    {
        if (message.Length > MaxProblemLength)
        {
            message = $"{message[..MaxProblemLength]}… (message cut, {message.Length:N0} characters)";
        }

        var where = string.Join(
            ", ",
            new[] { file, line is null ? null : $"line {line}", jsonPath is null ? null : Cut(jsonPath) }.Where(s => !string.IsNullOrEmpty(s)));
        return where.Length == 0 ? message : $"{where}: {message}";
    }

    // A JSON path holds property names from the file, which may be arbitrarily long.
    private static string Cut(string path) => path.Length <= 200 ? path : $"{path[..200]}…";
}

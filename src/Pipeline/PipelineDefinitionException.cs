namespace Distil.Pipeline;

/// <summary>
/// A pipeline definition or its input is wrong in a way the user can fix. The message names the file,
/// the line and the JSON path (or the input file and line) so that the fix is obvious.
/// </summary>
public sealed class PipelineDefinitionException : Exception
{
    public PipelineDefinitionException(string message, string? file = null, long? line = null, string? jsonPath = null, Exception? inner = null)
        : base(Format(message, file, line, jsonPath), inner)
    {
        File = file;
        Line = line;
        JsonPath = jsonPath;
    }

    public string? File { get; }

    public long? Line { get; }

    public string? JsonPath { get; }

    private static string Format(string message, string? file, long? line, string? jsonPath)
    {
        var where = string.Join(
            ", ",
            new[] { file, line is null ? null : $"line {line}", jsonPath }.Where(s => !string.IsNullOrEmpty(s)));
        return where.Length == 0 ? message : $"{where}: {message}";
    }
}

namespace Distil.Engine.Model;

/// <summary>A model folder or checkpoint the engine cannot use; the message names the file and the field or part at fault.</summary>
public sealed class ModelFormatException(string file, string problem, Exception? inner = null)
    : Exception($"{file}: {problem}", inner)
{
    public string File { get; } = file;

    public string Problem { get; } = problem;
}

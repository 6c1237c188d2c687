namespace Distil.Bench;

internal static class PipelineBench
{
    public static Task RunAsync(string[] args) => throw new NotSupportedException("pipeline benchmark: not written yet");
}

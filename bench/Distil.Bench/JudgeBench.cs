namespace Distil.Bench;

internal static class JudgeBench
{
    public static Task RunAsync(string[] args) => throw new NotSupportedException("judge benchmark: not written yet");
}

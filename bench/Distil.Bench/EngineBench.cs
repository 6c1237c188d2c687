namespace Distil.Bench;

internal static class EngineBench
{
    public static Task RunAsync(string[] args) => throw new NotSupportedException("engine benchmark: not written yet");
}

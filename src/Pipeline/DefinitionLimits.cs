namespace Distil.Pipeline;

/// <summary>
/// Caps that keep a bad definition cheap to reject: past them a file is refused with a located error
/// instead of making validate or the run spend minutes (or all memory) on it.
/// </summary>
public static class DefinitionLimits
{
    /// <summary>Most steps in one definition (a real pipeline has tens).</summary>
    public const int MaxSteps = 10_000;

    /// <summary>Deepest nesting of JSON objects and arrays in a definition.</summary>
    public const int MaxDepth = 64;

    /// <summary>Largest definition file read (bytes).</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Most threads a local model may ask for: four per core is already past any speed-up.</summary>
    public static int MaxThreads => Environment.ProcessorCount * 4;

    /// <summary>Default cap on one JSONL line (bytes); <c>max_line_bytes</c> on the source changes it.</summary>
    public const int DefaultMaxLineBytes = 16 << 20;
}

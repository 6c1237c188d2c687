namespace Distil.Cli;

/// <summary>Writes the full trace of an exception no command expected to a file, so the terminal gets one line and a bug report gets everything.</summary>
internal static class CrashLog
{
    /// <summary>Where crash logs go (DISTIL_LOG_DIR, else the temp folder).</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable("DISTIL_LOG_DIR") is { Length: > 0 } folder ? folder : Path.Combine(Path.GetTempPath(), "distil-logs");

    /// <returns>The log file's path, or a note that it could not be written.</returns>
    public static string Write(Exception exception, string[] args)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var path = Path.Combine(Directory, $"distil-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}.log");
            File.WriteAllText(path, $"distil {string.Join(' ', args)}\n{DateTime.UtcNow:O}\n\n{exception}\n");
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"(no log: {e.Message})";
        }
    }
}

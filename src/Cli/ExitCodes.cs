namespace Distil.Cli;

/// <summary>The exit codes of every command, as README.md lists them; nothing else returns a number.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The run (or the command's work: an upload, a build) failed.</summary>
    public const int RunFailed = 1;

    /// <summary>The definition, an argument or the input data is invalid; the message names the file, line and JSON path.</summary>
    public const int InvalidInput = 2;

    /// <summary>The run reached its budget_usd: finished batches kept, manifest cancelled (reason budget); a rerun with a higher budget resumes.</summary>
    public const int BudgetReached = 3;

    /// <summary>Interrupted (Ctrl+C): 128 + SIGINT.</summary>
    public const int Interrupted = 130;

    /// <summary>Terminated (SIGTERM): 128 + SIGTERM.</summary>
    public const int Terminated = 143;
}

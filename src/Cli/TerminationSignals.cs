using System.Runtime.InteropServices;

namespace Distil.Cli;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM cancel the command's token instead of killing the process, so a run stops
/// cleanly: in-flight batches are abandoned, finished ones stay cached, the manifest says cancelled. A second
/// signal exits at once. System.CommandLine installs no such handler unless asked, so the CLI owns it.
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;
    private int _received;

    public TerminationSignals()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, context => OnSignal(context, ExitCodes.Interrupted)),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => OnSignal(context, ExitCodes.Terminated)),
        ];
    }

    public CancellationToken Token => _cancel.Token;

    /// <summary>The exit code of the first signal received (0 when none).</summary>
    public int ExitCode { get; private set; }

    private void OnSignal(PosixSignalContext context, int exitCode)
    {
        context.Cancel = true;
        if (Interlocked.Increment(ref _received) > 1)
        {
            Console.Error.WriteLine("second signal: exiting now");
            Environment.Exit(ExitCode);
        }

        ExitCode = exitCode;
        Console.Error.WriteLine("stopping: finishing nothing new, keeping finished batches (signal again to exit at once)");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _cancel.Dispose();
    }
}
